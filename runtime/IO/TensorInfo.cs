namespace Turbo.Runtime.IO;

/// <summary>One tensor's header entry. Begin/End are byte offsets relative to the start of the data buffer.</summary>
public sealed record TensorInfo(string Name, SafetensorsDType DType, long[] Shape, long Begin, long End)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
    public long ByteCount => End - Begin;
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

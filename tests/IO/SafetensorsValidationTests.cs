using System.Text;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using Turbo.Tests.Support;

namespace Turbo.Tests.IO;

/// <summary>Each way a file can break the format gets its own one-line error naming the file, the tensor and the rule.</summary>
public class SafetensorsValidationTests : TempFolderFixture
{
    const string FileName = "model.safetensors";

    /// <summary>Writes <paramref name="content"/> as model.safetensors in the test's temp folder; returns its path.</summary>
    string WriteFile(byte[] content)
    {
        string path = Temp.PathTo(FileName);
        File.WriteAllBytes(path, content);
        return path;
    }

    SafetensorsFormatException OpenFails(byte[] content)
    {
        string path = WriteFile(content);
        var e = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path).Dispose())!;
        Assert.That(e.Message, Does.StartWith(path + ": ").And.Not.Contain("\n"));
        Assert.That(e.File, Is.EqualTo(path));
        return e;
    }

    static void AssertNames(SafetensorsFormatException e, string? tensor, string problem, string rule)
    {
        Assert.That(e.Tensor, Is.EqualTo(tensor), e.Message);
        if (tensor is not null) Assert.That(e.Message, Does.Contain($"tensor '{tensor}': "));
        Assert.That(e.Message, Does.Contain(problem));
        Assert.That(e.Rule, Does.Contain(rule), e.Message);
    }

    [Test]
    public void ByteCountMismatchIsExplained()
    {
        var e = OpenFails(RawSafetensors.Build("""{"blocks.0.q.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,12]}}""", 12));
        Assert.That(e.Message, Does.EndWith($"{FileName}: tensor 'blocks.0.q.weight': data_offsets [0, 12] cover 12 bytes but "
            + "shape [2, 3] × F32 needs 24 (rule: byte count = shape × dtype size)"));
    }

    [TestCase(0)]
    [TestCase(5)]
    public void FileShorterThanTheLengthField(int bytes) =>
        AssertNames(OpenFails(new byte[bytes]), null, $"file has {bytes} bytes", "at least the 8-byte header length");

    [Test]
    public void HeaderLengthPastTheEnd() =>
        AssertNames(OpenFails(RawSafetensors.Build(1000, Encoding.UTF8.GetBytes("{}"), [])), null,
            "header length 1000 runs past the end of the 10-byte file", "8 + header length ≤ file size");

    [Test]
    public void HeaderLengthOverTheCap() =>
        AssertNames(OpenFails(RawSafetensors.Build(100_000_001, Encoding.UTF8.GetBytes("{}"), [])), null,
            "header length 100000001 is over the limit", "header length ≤ 100,000,000 bytes");

    [Test]
    public void TruncatedDataIsCaughtByTheLayoutRule()
    {
        byte[] whole = RawSafetensors.Build("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[3],"data_offsets":[8,20]}}""", 20);
        AssertNames(OpenFails(whole[..^4]), "b", "data_offsets [8, 20] run past the end of the 16-byte data buffer", "cover the data buffer exactly");
    }

    [TestCase("{not json}", "header is not valid JSON")]
    [TestCase("{\"a\":", "header is not valid JSON")]
    [TestCase("{} x", "header is not valid JSON")]
    [TestCase("{}{}", "header is not valid JSON")]
    [TestCase("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],}}", "header is not valid JSON")]
    public void NotJson(string header, string problem) =>
        AssertNames(OpenFails(RawSafetensors.Build(header, 4)), null, problem, "the header is UTF-8 JSON");

    [TestCase("[1, 2]")]
    [TestCase(" {}")]
    [TestCase("\"text\"")]
    [TestCase("")]
    public void JsonNotStartingWithBrace(string header) =>
        AssertNames(OpenFails(RawSafetensors.Build(header, 0)), null, "header does not start with '{'", "JSON object starting with '{'");

    [Test]
    public void InvalidUtf8() =>
        AssertNames(OpenFails(RawSafetensors.Build([(byte)'{', 0xC3, 0x28, (byte)'}'], [])), null, "not valid UTF-8", "UTF-8 JSON");

    [Test]
    public void TrailingSpacesAreAllowed()
    {
        string path = WriteFile(RawSafetensors.Build("""{"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}      """, 4));
        using var file = SafetensorsFile.Open(path);
        Assert.That(file.Info("a").Shape, Is.EqualTo(new long[] { 1 }));
    }

    [Test]
    public void OverlappingOffsets() =>
        AssertNames(OpenFails(RawSafetensors.Build(
                """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12)),
            "b", "data_offsets [4, 12] overlap tensor 'a' [0, 8]", "each starts where the previous ends");

    [Test]
    public void HoleBetweenTensors() =>
        AssertNames(OpenFails(RawSafetensors.Build(
                """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}""", 20)),
            "b", "leave bytes [8, 12) of the data buffer unused", "each starts where the previous ends");

    [Test]
    public void FirstTensorNotAtZero() =>
        AssertNames(OpenFails(RawSafetensors.Build("""{"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}""", 4)),
            "a", "leave bytes [0, 2)", "the first starts at 0");

    [Test]
    public void BytesAfterTheLastTensor() =>
        AssertNames(OpenFails(RawSafetensors.Build("""{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}""", 5)),
            "a", "is the last tensor and ends at byte 2, but the data buffer after the header has 5 bytes", "8 + header length + last end == file size");

    [Test]
    public void NoTensorsButData() =>
        AssertNames(OpenFails(RawSafetensors.Build("{}", 3)), null, "there are no tensors but the data buffer after the header has 3 bytes", "file size");

    [Test]
    public void EndBeforeBegin() =>
        AssertNames(OpenFails(RawSafetensors.Build("""{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}""", 4)),
            "a", "data_offsets [4, 0] end before they begin", "begin ≤ end");

    [TestCase("C64")]
    [TestCase("F4")]
    [TestCase("f32")]
    [TestCase("7")]
    public void UnknownDType(string dtype) =>
        AssertNames(OpenFails(RawSafetensors.Build("{\"a\":{\"dtype\":\"" + dtype + "\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8)),
            "a", $"dtype '{dtype}' is not supported", "dtype is one of BOOL, U8, I8");

    [TestCase("""{"dtype":"F32","data_offsets":[0,4]}""", "field 'shape' is missing")]
    [TestCase("""{"shape":[1],"data_offsets":[0,4]}""", "field 'dtype' is missing")]
    [TestCase("""{"dtype":"F32","shape":[1]}""", "field 'data_offsets' is missing")]
    [TestCase("""{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}""", "shape is not a list of non-negative integers")]
    [TestCase("""{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}""", "shape is not a list of non-negative integers")]
    [TestCase("""{"dtype":"F32","shape":"1","data_offsets":[0,4]}""", "shape is not a list of non-negative integers")]
    [TestCase("""{"dtype":"F32","shape":[1],"data_offsets":[0]}""", "data_offsets is not a list of two non-negative integers")]
    [TestCase("""{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}""", "data_offsets is not a list of two non-negative integers")]
    [TestCase("""{"dtype":"F32","shape":[1],"data_offsets":[0,99999999999999999999]}""", "data_offsets is not a list of two non-negative integers")]
    [TestCase("""{"dtype":4,"shape":[1],"data_offsets":[0,4]}""", "dtype is a Number, not a string")]
    [TestCase("""{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}""", "unknown field 'extra'")]
    [TestCase("[0, 4]", "entry is a StartArray, not an object")]
    public void MalformedEntry(string entry, string problem) =>
        AssertNames(OpenFails(RawSafetensors.Build("{\"w\":" + entry + "}", 4)), "w", problem, "each tensor entry is");

    [Test]
    public void ShapeProductOverflow() =>
        AssertNames(OpenFails(RawSafetensors.Build(
                """{"a":{"dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}}""", 0)),
            "a", "shape [4294967296, 4294967296, 0] × F32 overflows 64 bits", "byte count = shape × dtype size");

    [Test]
    public void DuplicateTensorKey() =>
        AssertNames(OpenFails(RawSafetensors.Build(
                """{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}""", 2)),
            "a", "appears twice in the header", "no duplicate keys");

    [Test]
    public void DuplicateFieldInEntry() =>
        AssertNames(OpenFails(RawSafetensors.Build("""{"a":{"dtype":"U8","dtype":"I8","shape":[1],"data_offsets":[0,1]}}""", 1)),
            "a", "field 'dtype' appears twice", "no duplicate keys");

    [Test]
    public void DuplicateMetadata() =>
        AssertNames(OpenFails(RawSafetensors.Build("""{"__metadata__":{},"__metadata__":{}}""", 0)),
            null, "key '__metadata__' appears twice", "no duplicate keys");

    [TestCase("""{"n":1}""", "__metadata__ value of 'n' is a Number, not a string")]
    [TestCase("""{"n":{"x":"y"}}""", "__metadata__ value of 'n' is a StartObject, not a string")]
    [TestCase("""{"n":"a","n":"b"}""", "__metadata__ key 'n' appears twice")]
    [TestCase("""["format"]""", "__metadata__ is a StartArray, not an object")]
    public void MetadataNotStringToString(string metadata, string problem) =>
        AssertNames(OpenFails(RawSafetensors.Build("{\"__metadata__\":" + metadata + "}", 0)), null, problem,
            problem.Contains("twice") ? "no duplicate keys" : "__metadata__ maps strings to strings");

    [Test]
    public void EmptyTensorWithHugeDimensions()
    {
        string path = WriteFile(RawSafetensors.Build("""
            {"ok":{"dtype":"F64","shape":[0,1000000000000000,7],"data_offsets":[0,0]},
             "huge":{"dtype":"F64","shape":[0,1000000000000000000,100],"data_offsets":[0,0]}}
            """, 0));
        using var file = SafetensorsFile.Open(path); // valid safetensors: zero bytes, and the byte count does not overflow
        using var t = file.Read("ok");
        Assert.That(t.shape, Is.EqualTo(new long[] { 0, 1_000_000_000_000_000, 7 }));
        var e = Assert.Throws<TurboException>(() => file.Read("huge"))!; // libtorch's strides would overflow
        Assert.That(e.Message, Does.Contain("tensor 'huge': shape [0, 1000000000000000000, 100] is too large for a tensor"));
    }

    [Test]
    public void RankIsCappedForReading()
    {
        string Ones(int n) => "[" + string.Join(",", Enumerable.Repeat(1, n)) + "]";
        string path = WriteFile(RawSafetensors.Build(
            $"{{\"r64\":{{\"dtype\":\"U8\",\"shape\":{Ones(64)},\"data_offsets\":[0,1]}},\"r65\":{{\"dtype\":\"U8\",\"shape\":{Ones(65)},\"data_offsets\":[1,2]}}}}", 2));
        using var file = SafetensorsFile.Open(path);
        using var t = file.Read("r64");
        Assert.That(t.dim(), Is.EqualTo(64));
        var e = Assert.Throws<TurboException>(() => file.Read("r65"))!;
        Assert.That(e.Message, Does.Contain("tensor 'r65' has 65 dimensions; at most 64"));
        Assert.That(file.Bytes("r65").ToArray(), Is.EqualTo(new byte[] { 0 }));
    }

    [Test]
    public void MissingFileIsAUserError()
    {
        string path = Temp.PathTo("absent.safetensors");
        var e = Assert.Throws<TurboException>(() => SafetensorsFile.Open(path))!;
        Assert.That(e.Message, Does.StartWith(path + ": cannot open"));
        Assert.Throws<TurboException>(() => SafetensorsFile.Open(Temp.Path));
    }
}

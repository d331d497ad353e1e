using Turbo.Runtime;
using Turbo.Runtime.IO;
using static TorchSharp.torch;

namespace Turbo.Distiller.Merge;

/// <summary>
/// TurboDiffusion's merge (scripts/merge_models.py with w = 1): SLA and rCM are trained independently from the same
/// teacher, and the SLA fine-tune's change is added to the rCM student, tensor by tensor:
/// <code>
///   merged[n] = student[n] + (tuned[n] − teacher[n])    for every tensor n of the teacher
///   merged[n] = tuned[n]                                for the tensors only the tuned model has (SLA's proj_l)
/// </code>
/// The sums are formed in float64 and stored in the student's dtype. Student and teacher must hold the same tensors,
/// the tuned model those and possibly more, all of matching shapes; everything is checked before any arithmetic.
/// </summary>
public static class StudentMerge
{
    /// <summary>The merge over state dicts (canonical names); the caller disposes the result.</summary>
    public static Dictionary<string, Tensor> Merge(IReadOnlyDictionary<string, Tensor> student, IReadOnlyDictionary<string, Tensor> teacher,
        IReadOnlyDictionary<string, Tensor> tuned)
    {
        Check(Layout(student), Layout(teacher), Layout(tuned), "student", "teacher", "SLA-tuned model");
        var merged = new Dictionary<string, Tensor>();
        foreach (var (name, t) in tuned)
            merged[name] = teacher.ContainsKey(name) ? MergeTensor(student[name], teacher[name], t) : t.detach().clone();
        return merged;
    }

    /// <summary>
    /// The merge over checkpoints (a safetensors file, a folder of them or a sharded index; canonical names), streamed
    /// one tensor at a time into <paramref name="output"/> (written whole or not at all), with the tuned checkpoint's
    /// metadata (e.g. its attention config).
    /// </summary>
    public static void Merge(string student, string teacher, string tuned, string output)
    {
        using var s = Checkpoint.Open(student);
        using var te = Checkpoint.Open(teacher);
        using var tu = Checkpoint.Open(tuned);
        Check(Layout(s), Layout(te), Layout(tu), student, teacher, tuned);
        var studentTypes = s.Tensors.ToDictionary(t => t.Name, t => t.DType);
        var layout = tu.Tensors.Select(t => (t.Name, DType: studentTypes.GetValueOrDefault(t.Name, t.DType), t.Shape))
            .OrderByDescending(e => e.DType.ByteSize()).ThenBy(e => e.Name, StringComparer.Ordinal).ToList();
        using var writer = new SafetensorsWriter(output, layout, tu.Metadata);
        foreach (var (name, _, _) in layout)
        {
            using var scope = NewDisposeScope();
            var tunedTensor = tu.Read(name);
            writer.Write(name, te.Contains(name) ? MergeTensor(s.Read(name), te.Read(name), tunedTensor) : tunedTensor);
        }
        writer.Commit();
    }

    /// <summary>student + (tuned − teacher), in float64, in the student's dtype.</summary>
    public static Tensor MergeTensor(Tensor student, Tensor teacher, Tensor tuned)
    {
        using var scope = NewDisposeScope();
        var delta = tuned.to(ScalarType.Float64, student.device) - teacher.to(ScalarType.Float64, student.device);
        return (student.to(ScalarType.Float64) + delta).to(student.dtype).MoveToOuterDisposeScope();
    }

    static Dictionary<string, (long[] Shape, bool Float)> Layout(IReadOnlyDictionary<string, Tensor> tensors) =>
        tensors.ToDictionary(kv => kv.Key, kv => (kv.Value.shape, kv.Value.is_floating_point()));

    static Dictionary<string, (long[] Shape, bool Float)> Layout(Checkpoint checkpoint) =>
        checkpoint.Tensors.ToDictionary(t => t.Name, t => (t.Shape, t.DType.ToScalarType() is { } type && IsFloat(type)));

    static bool IsFloat(ScalarType type) =>
        type is ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16;

    static void Check(Dictionary<string, (long[] Shape, bool Float)> student, Dictionary<string, (long[] Shape, bool Float)> teacher,
        Dictionary<string, (long[] Shape, bool Float)> tuned, string studentName, string teacherName, string tunedName)
    {
        string Shape(long[] shape) => "[" + string.Join(", ", shape) + "]";
        foreach (var name in teacher.Keys.Order(StringComparer.Ordinal))
        {
            if (!student.TryGetValue(name, out var s)) throw new TurboException($"merge: {studentName} lacks tensor {name} of the teacher");
            if (!tuned.TryGetValue(name, out var u)) throw new TurboException($"merge: {tunedName} lacks tensor {name} of the teacher");
            var t = teacher[name];
            if (!s.Shape.SequenceEqual(t.Shape) || !u.Shape.SequenceEqual(t.Shape))
                throw new TurboException($"merge: tensor {name} is {Shape(s.Shape)} in the student, {Shape(t.Shape)} in the teacher, {Shape(u.Shape)} in the tuned model");
            if (!s.Float || !t.Float || !u.Float) throw new TurboException($"merge: tensor {name} is not floating-point in all three models");
        }
        if (student.Keys.FirstOrDefault(n => !teacher.ContainsKey(n)) is { } extra)
            throw new TurboException($"merge: {studentName} has tensor {extra}, which the teacher lacks (student and teacher must share one architecture)");
        if (tuned.FirstOrDefault(kv => !teacher.ContainsKey(kv.Key) && !kv.Value.Float) is { Key: { } nonFloat })
            throw new TurboException($"merge: tensor {nonFloat} of {tunedName} is not floating-point");
    }
}

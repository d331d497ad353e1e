using Turbo.Distiller.Merge;
using Turbo.Runtime;
using Turbo.Runtime.IO;
using Turbo.Tests.Support;
using static TorchSharp.torch;

namespace Turbo.Tests.Distiller;

public class StudentMergeTests
{
    const string Proj = "blocks.0.self_attn.attn_op.local_attn.proj_l.weight";

    static Dictionary<string, Tensor> Weights(float w, float b) => new()
    {
        ["blocks.0.self_attn.q.weight"] = full([2, 2], w),
        ["head.head.bias"] = full([3], b),
    };

    [Test]
    public void TheStudentGainsTheTunedModelsChangeAndItsExtraTensors()
    {
        var student = Weights(1.5f, -2f);
        var teacher = Weights(1f, 0.25f);
        var tuned = Weights(0.75f, 1f);
        tuned[Proj] = full([4, 4], 0.125f);
        var merged = StudentMerge.Merge(student, teacher, tuned);
        Assert.That(merged.Keys, Is.EquivalentTo(tuned.Keys));
        Assert.That(merged["blocks.0.self_attn.q.weight"].eq(1.25f).all().item<bool>(), "1.5 + (0.75 − 1)");
        Assert.That(merged["head.head.bias"].eq(-1.25f).all().item<bool>(), "−2 + (1 − 0.25)");
        Assert.That(merged[Proj].eq(0.125f).all().item<bool>(), "proj_l from the tuned model");
    }

    [Test]
    public void TheResultKeepsTheStudentsDtype()
    {
        var student = new Dictionary<string, Tensor> { ["w"] = full([2], 1f, dtype: ScalarType.BFloat16) };
        var teacher = new Dictionary<string, Tensor> { ["w"] = full([2], 0.5f) };
        var tuned = new Dictionary<string, Tensor> { ["w"] = full([2], 8.5f, dtype: ScalarType.Float64) };
        var merged = StudentMerge.Merge(student, teacher, tuned)["w"];
        Assert.That(merged.dtype, Is.EqualTo(ScalarType.BFloat16));
        Assert.That(merged.to(ScalarType.Float32).data<float>().ToArray(), Is.EqualTo(new[] { 9f, 9f }));
    }

    [Test]
    public void MismatchedModelsAreNamedBeforeAnyArithmetic()
    {
        var teacher = Weights(1, 1);
        var missing = Weights(1, 1);
        missing.Remove("head.head.bias");
        Assert.That(Assert.Throws<TurboException>(() => StudentMerge.Merge(missing, teacher, Weights(1, 1)))!.Message,
            Does.Contain("student lacks tensor head.head.bias"));
        var reshaped = Weights(1, 1);
        reshaped["head.head.bias"] = zeros(4);
        Assert.That(Assert.Throws<TurboException>(() => StudentMerge.Merge(Weights(1, 1), teacher, reshaped))!.Message,
            Does.Contain("head.head.bias").And.Contain("[4]"));
        var extra = Weights(1, 1);
        extra["more"] = zeros(1);
        Assert.That(Assert.Throws<TurboException>(() => StudentMerge.Merge(extra, teacher, Weights(1, 1)))!.Message, Does.Contain("more"));
        var integer = Weights(1, 1);
        integer["head.head.bias"] = zeros([3], dtype: ScalarType.Int32);
        Assert.Throws<TurboException>(() => StudentMerge.Merge(Weights(1, 1), teacher, integer));
    }

    [Test]
    public void CheckpointsMergeAsTheirStateDictsDo()
    {
        using var dir = new TempFolder();
        var tuned = Weights(0.5f, 3f);
        tuned[Proj] = randn([4, 4], generator: new Generator(1));
        SafetensorsWriter.Save(dir.PathTo("student.safetensors"), Weights(2f, 1f));
        SafetensorsWriter.Save(dir.PathTo("teacher.safetensors"), Weights(1f, 1.5f));
        SafetensorsWriter.Save(dir.PathTo("tuned.safetensors"), tuned, new Dictionary<string, string> { ["attention"] = "{\"kind\":\"Sla\"}" });
        StudentMerge.Merge(dir.PathTo("student.safetensors"), dir.PathTo("teacher.safetensors"), dir.PathTo("tuned.safetensors"), dir.PathTo("merged.safetensors"));

        var expected = StudentMerge.Merge(Weights(2f, 1f), Weights(1f, 1.5f), tuned);
        using var merged = SafetensorsFile.Open(dir.PathTo("merged.safetensors"));
        Assert.That(merged.Metadata["attention"], Is.EqualTo("{\"kind\":\"Sla\"}"), "the tuned model's metadata");
        Assert.That(merged.Tensors.Select(t => t.Name), Is.EquivalentTo(expected.Keys));
        foreach (var (name, value) in expected)
        {
            using var stored = merged.Read(name);
            Assert.That(stored.eq(value).all().item<bool>(), name);
        }
    }
}

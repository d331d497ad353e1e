using Turbo.Distiller.Data;
using static TorchSharp.torch;

namespace Turbo.Converter.Pipelines;

/// <summary>A text-to-video pipeline as the teacher-sample stage's teacher: its prompt encoding and its sampler with the given settings.</summary>
public sealed class PipelineTeacherSampler(WanTextToVideo pipeline, SampleSettings settings) : ITeacherSampler
{
    public Tensor EncodePrompts(IReadOnlyList<string> prompts) => pipeline.EncodePrompts(prompts);

    public Tensor SampleLatents(IReadOnlyList<string> prompts, long seed, long firstIndex) =>
        pipeline.GenerateLatents(prompts, seed, settings, firstIndex: firstIndex);

    public string Description => FormattableString.Invariant(
        $"{settings.Solver} {settings.Steps} steps, guidance {settings.Guidance}, shift {settings.Shift}, times {string.Join(" ", settings.Schedule.Sigmas)}, {settings.Frames}×{settings.Height}×{settings.Width}");
}

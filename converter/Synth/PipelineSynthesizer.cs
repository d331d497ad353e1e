using Turbo.Converter.Families.Wan;
using Turbo.Converter.Files;
using Turbo.Converter.Pipelines;
using Turbo.Runtime;

namespace Turbo.Converter.Synth;

/// <summary>
/// Writes a whole Wan2.1 text-to-video folder with random weights, in the diffusers layout that
/// <see cref="WanTextToVideo.Load"/> and `turbo-convert run` read: model_index.json with the size's sampling defaults,
/// scheduler/, tokenizer/, text_encoder/ (a stand-in, see <see cref="SynthPipelinePreset"/>), vae/, and transformer/
/// (the request's checkpoint exactly as plain synth writes it, diffusers naming). For speed measurements: the clips
/// are noise. Weights are streamed a tensor at a time, and the folder appears only when complete.
/// </summary>
public static class PipelineSynthesizer
{
    /// <param name="tensorWritten">called with each tensor's byte count as it is produced (for progress)</param>
    public static SynthResult Write(SynthRequest request, SynthPipelinePreset parts, Action<long>? tensorWritten = null)
    {
        if (request.Naming != WanNaming.Diffusers)
            throw new TurboException($"--naming {request.Naming.Id()}: --pipeline writes a diffusers-layout folder, whose transformer has diffusers names; expected --naming diffusers or none");
        var layout = SynthPipelineLayout.For(parts, request.Config, request.DType);
        AtomicFolder.Write(request.OutputDir, root =>
        {
            // The transformer first: it checks the rest of the request before the other parts cost any time.
            PipelineFolder.WriteComponent(root, PipelineFolder.Transformer, dir => CheckpointSynthesizer.Write(request with { OutputDir = dir }, tensorWritten));
            PipelineFolder.WriteTextEncoder(root, parts.TextEncoder,
                path => SynthFile.Write(path, layout.TextEncoder, request.Seed, SynthPipelineLayout.TextEncoderStreams, tensorWritten));
            PipelineFolder.WriteVae(root, parts.Vae,
                path => SynthFile.Write(path, layout.Vae, request.Seed, SynthPipelineLayout.VaeStreams, tensorWritten));
            PipelineFolder.WriteTokenizer(root, parts.Tokenizer);
            PipelineFolder.WriteIndex(root, parts.Sampling);
        });
        var files = Directory.EnumerateFiles(request.OutputDir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        var tensors = layout.All.ToArray();
        return new SynthResult(files, tensors.Length, tensors.Sum(t => t.ElementCount), tensors.Sum(t => t.ByteCount));
    }
}

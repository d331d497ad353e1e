using System.CommandLine;

namespace Turbo.Converter.Commands;

/// <summary>Options several verbs share, spelled the same everywhere.</summary>
public static class CommonOptions
{
    public static Argument<string> CheckpointArgument(string description = "checkpoint: a .safetensors file, a folder of shards, an index.json, or a diffusers repository") =>
        new("checkpoint") { Description = description };

    public static Option<string?> Config() => new("--config")
    {
        Description = "config.json to use (default: the one beside the weights, else inferred from tensor shapes)",
    };

    public static Option<string> Device()
    {
        var option = new Option<string>("--device")
        {
            Description = "where to compute: auto (CUDA when available), cpu or cuda",
            DefaultValueFactory = _ => "auto",
        };
        option.AcceptOnlyFromAmong("auto", "cpu", "cuda");
        return option;
    }

    public static Option<string> DType()
    {
        var option = new Option<string>("--dtype")
        {
            Description = "compute dtype of the weights: f32 or bf16",
            DefaultValueFactory = _ => "f32",
        };
        option.AcceptOnlyFromAmong("f32", "bf16");
        return option;
    }

    public static Option<string> Output(string description) => new("--output", "-o") { Description = description, Required = true };

    public static Option<string> Inputs(string description) => new("--inputs") { Description = description, Required = true };
}

using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Turbo.Converter.Families;

namespace Turbo.Converter.Inspection;

/// <summary>Everything `inspect` says about a checkpoint, computed from headers alone (no tensor data is read).</summary>
public sealed record InspectReport(
    string Path, string Family, string Naming, IReadOnlyList<string> Files, string ConfigOrigin,
    IReadOnlyDictionary<string, object> Config, int TensorCount, long Parameters, long Bytes,
    IReadOnlyDictionary<string, int> DTypeCounts, MemoryEstimate Memory, IReadOnlyList<string> Plan)
{
    public static InspectReport Of(string path, IAdaptedCheckpoint checkpoint) => new(
        path, checkpoint.Family, checkpoint.Naming, checkpoint.Files, checkpoint.ConfigOrigin, checkpoint.ConfigFields,
        checkpoint.Tensors.Count,
        checkpoint.Tensors.Sum(t => t.Source.ElementCount),
        checkpoint.Tensors.Sum(t => t.Source.ByteCount),
        checkpoint.Tensors.GroupBy(t => t.Source.DType.ToString()).OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count()),
        MemoryEstimate.Of(checkpoint),
        checkpoint.ConversionPlan);

    /// <summary>Machine-readable form (snake_case keys, byte counts as integers).</summary>
    public string ToJson()
    {
        var json = new JsonObject
        {
            ["path"] = Path,
            ["family"] = Family,
            ["naming"] = Naming,
            ["files"] = new JsonArray(Files.Select(f => (JsonNode)f).ToArray()),
            ["config_origin"] = ConfigOrigin,
            ["config"] = JsonSerializer.SerializeToNode(Config),
            ["tensor_count"] = TensorCount,
            ["parameter_count"] = Parameters,
            ["bytes"] = Bytes,
            ["dtypes"] = JsonSerializer.SerializeToNode(DTypeCounts),
            ["memory_estimate"] = new JsonObject
            {
                ["bf16_bytes"] = Memory.Bf16Bytes,
                ["int8_w8a8_bytes"] = Memory.Int8Bytes,
                ["int8_block_linear_parameters"] = Memory.BlockLinearParameters,
            },
            ["plan"] = new JsonArray(Plan.Select(p => (JsonNode)p).ToArray()),
        };
        // Relaxed escaping keeps "->" and "+" readable; the output is JSON for tools, not for embedding in HTML.
        return json.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }
}

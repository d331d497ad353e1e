using Turbo.Runtime.Models;

namespace Turbo.Converter.Families.Wan;

/// <summary>A resolved config and where it came from (for reports and error messages).</summary>
public sealed record WanConfigSource(WanConfig Config, string Origin);

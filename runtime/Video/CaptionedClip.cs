namespace Turbo.Runtime.Video;

/// <summary>A clip's frames and the text shown under it in a <see cref="ClipGrid"/> (typically its prompt).</summary>
public sealed record CaptionedClip(string Caption, IReadOnlyList<RgbFrame> Frames);

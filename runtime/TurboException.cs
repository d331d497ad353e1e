namespace Turbo.Runtime;

/// <summary>
/// An error caused by the user's input (a file, a tensor, an option) rather than by a bug. Its message is one
/// line that names the file/tensor and what was expected; command-line tools print it and exit non-zero.
/// </summary>
public class TurboException(string message) : Exception(message);

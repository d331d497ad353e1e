namespace Turbo.Quantizer.Reports;

/// <summary>Agreement at one timestep of the schedule, averaged over the evaluation samples.</summary>
public sealed record TimestepAgreement(double Timestep, double Cosine, double RelativeError);

/// <summary>
/// The quantized model against the unquantized one on held-out samples. Velocity: both models are given the same
/// inputs (the unquantized model's own trajectory) at every step, so errors do not compound. Latents: each model
/// runs the whole sampling loop from the same noise, so they do.
/// </summary>
public sealed record EndToEndReport(
    int Samples,
    int Steps,
    double VelocityCosineMean,
    double VelocityCosineMin,
    double VelocityRelativeErrorMean,
    double VelocityRelativeErrorMax,
    double LatentCosineMean,
    double LatentRelativeErrorMean,
    IReadOnlyList<TimestepAgreement> PerTimestep);

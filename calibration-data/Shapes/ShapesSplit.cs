namespace Turbo.CalibrationData.Shapes;

/// <summary>
/// Train: any valid triple except the held-out ones, captions sometimes leaving out background or speed.
/// HeldOut: only the held-out triples, full captions (what evaluation prompts are made of).
/// </summary>
public enum ShapesSplit { Train, HeldOut }

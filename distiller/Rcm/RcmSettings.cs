using Turbo.Runtime;

namespace Turbo.Distiller.Rcm;

/// <summary>
/// Settings of an rCM distillation. The defaults are rCM's Wan2.1-1.3B recipe (NVlabs/rcm, TurboDiffusion):
/// AdamW with β = (0, 0.999), student lr 2e-6, critic lr 4e-7, sCM weight 100, DMD weight 1, a student update every
/// 5th step after a 1000-step tangent warm-up, 1–4 simulated student steps, p_G log σ ~ N(0.7, 1.6²), p_D shifted by 5.
/// </summary>
public sealed record RcmSettings
{
    /// <summary>Optimizer steps in all, the student's and the critic's together.</summary>
    public int Steps { get; init; } = 10_000;
    public int BatchSize { get; init; } = 1;
    public double StudentLearningRate { get; init; } = 2e-6;
    public double CriticLearningRate { get; init; } = 4e-7;
    public double WeightDecay { get; init; } = 0.01;
    /// <summary>Gradient-norm clip of either network; null = none (rCM clips nothing).</summary>
    public double? GradientClip { get; init; }

    /// <summary>
    /// The teacher's classifier-free guidance, distilled into the student, in Wan's convention v_u + g·(v_c − v_u).
    /// rCM writes it as F_c + w·(F_c − F_u): its "5.0" is g = 6 here.
    /// </summary>
    public double TeacherGuidance { get; init; } = 5.0;

    /// <summary>p_G: log σ ~ N(mean, std²), t = atan σ. 0.7 is rCM's −0.8 plus ln √20 for its 20 latent frames.</summary>
    public double ConsistencyLogMean { get; init; } = 0.7;
    public double ConsistencyLogStd { get; init; } = 1.6;
    /// <summary>p_D: uniform rectified-flow level shifted by this factor.</summary>
    public double CriticShift { get; init; } = 5.0;

    /// <summary>Steps over which the tangent terms are phased in (r = step / warm-up); DMD and the critic start after it.</summary>
    public int TangentWarmup { get; init; } = 1000;
    public double ScmWeight { get; init; } = 100.0;
    /// <summary>Weight of the DMD term; 0 trains pure sCM, without a critic.</summary>
    public double DmdWeight { get; init; } = 1.0;
    public double CriticWeight { get; init; } = 1.0;
    /// <summary>After the warm-up, the student is updated at every step divisible by this, the critic at the others.</summary>
    public int StudentUpdateEvery { get; init; } = 5;
    /// <summary>The backward simulation cycles through 0 … this − 1 steps before the student's final step (1 to this in all).</summary>
    public int MaxSimulationSteps { get; init; } = 4;

    public TangentMethod Tangent { get; init; } = TangentMethod.DoubleBackward;
    public double FiniteDifferenceStep { get; init; } = Rcm.Tangent.DefaultStep;

    public double EmaDecay { get; init; } = 0.999;
    public int CheckpointEvery { get; init; } = 500;
    public long Seed { get; init; }
    /// <summary>Stop early, checkpointed, once a run has taken this long; a later run resumes.</summary>
    public TimeSpan? TimeLimit { get; init; }

    public bool TrainsCritic => DmdWeight > 0;

    /// <summary>Whether step <paramref name="step"/> of a run updates the student (else the critic).</summary>
    public bool IsStudentStep(long step) => !TrainsCritic || step < TangentWarmup || step % StudentUpdateEvery == 0;

    /// <summary>
    /// rCM's p_G mean for videos of <paramref name="latentFrames"/> latent frames: its log-normal mean −0.8 with σ
    /// scaled by √frames (so 0.7 for Wan2.1's 20 frames at 77 video frames).
    /// </summary>
    public static double VideoLogMean(int latentFrames) => -0.8 + 0.5 * Math.Log(latentFrames);

    /// <summary>Throws a TurboException naming the first setting that cannot work.</summary>
    public void Validate()
    {
        void Check(bool ok, string problem)
        {
            if (!ok) throw new TurboException($"rCM settings: {problem}");
        }
        Check(Steps >= 1 && BatchSize >= 1 && CheckpointEvery >= 1, "steps, batch size and checkpoint interval must be ≥ 1");
        Check(StudentLearningRate > 0 && CriticLearningRate > 0 && WeightDecay >= 0, "learning rates must be positive and the weight decay ≥ 0");
        Check(GradientClip is null or > 0, "the gradient clip must be positive");
        Check(double.IsFinite(TeacherGuidance) && TeacherGuidance >= 1, $"the teacher guidance must be ≥ 1, found {TeacherGuidance}");
        Check(double.IsFinite(ConsistencyLogMean) && ConsistencyLogStd > 0 && double.IsFinite(ConsistencyLogStd), "p_G needs a finite mean and a positive std");
        Check(CriticShift > 0 && double.IsFinite(CriticShift), "the critic shift must be positive");
        Check(TangentWarmup >= 0, "the tangent warm-up must be ≥ 0");
        Check(ScmWeight > 0 && DmdWeight >= 0 && CriticWeight > 0, "the sCM and critic weights must be positive, the DMD weight ≥ 0");
        Check(StudentUpdateEvery >= 1 && MaxSimulationSteps >= 1, "the student update interval and the simulation steps must be ≥ 1");
        Check(Enum.IsDefined(Tangent), $"unknown tangent method {(int)Tangent}");
        Check(FiniteDifferenceStep > 0 && FiniteDifferenceStep < 0.1, "the finite-difference step must be in (0, 0.1)");
        Check(EmaDecay is >= 0 and < 1, "the EMA decay must be in [0, 1)");
    }
}

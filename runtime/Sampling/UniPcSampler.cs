using Turbo.Runtime.Native;
using static TorchSharp.torch;

namespace Turbo.Runtime.Sampling;

/// <summary>
/// UniPC multistep sampler for flow-matching models, in the configuration Wan2.1 uses (diffusers'
/// UniPCMultistepScheduler with flow sigmas and the original FlowUniPCMultistepScheduler alike): B(h) = e^h − 1
/// ("bh2"), data prediction (x0), predictor order 2 with a first-order warm-up step and a first-order final step,
/// and the UniC corrector applied from the second step on, reusing the model evaluation of the new point.
///
/// In log-SNR time λ(σ) = log(1 − σ) − log σ, with α = 1 − σ, a step from σ_s to σ_t (h = λ_t − λ_s) is
///   x_t = (σ_t/σ_s)·x_s − α_t·(e^−h − 1)·m_s − α_t·B(−h)·Σ ρ_k·D_k,
/// where m are x0 predictions and D_k their divided differences; the ρ come from matching the Taylor terms
/// (predictor of order 2: ρ = ½; corrector: a 2×2 solve, or ½ at order 1).
/// </summary>
public sealed class UniPcSampler : IFlowSampler
{
    public Tensor Sample(VelocityModel velocity, Tensor noise, FlowMatchSchedule schedule, SamplingProgress? progress = null)
    {
        var s = schedule.Sigmas;
        int steps = schedule.Steps;
        for (int i = 0; i < steps; i++)
            if (s[i] <= 0 || s[i] >= 1)
                throw new TurboException($"schedule: UniPC needs 0 < sigma < 1 before the last step, found sigma {i} = {s[i]}");

        var x = SamplerStep.Start(noise);
        // x0 predictions at steps i−2 and i−1, and the (corrected) sample at step i−1, kept for the multistep terms.
        Tensor? olderX0 = null, lastX0 = null, lastSample = null;
        int lastOrder = 0;
        using var pause = CollectionPause.Begin();
        try
        {
            for (int i = 0; i < steps; i++)
            {
                Tensor next;
                using (var scope = NewDisposeScope())
                {
                    var v = SamplerStep.Velocity(velocity, x, schedule.Timesteps[i]);
                    var x0 = x - s[i] * v;
                    if (i > 0)
                    {
                        var corrected = Correct(s, i, lastOrder, lastSample!, x0, lastX0!, olderX0).MoveToOuterDisposeScope();
                        x.Dispose();
                        x = corrected;
                    }

                    // Order 2 once two predictions exist, and back to order 1 for the final step (lower_order_final).
                    int order = Math.Min(Math.Min(2, steps - i), i + 1);
                    next = Predict(s, i, order, x, x0, lastX0).MoveToOuterDisposeScope();
                    lastOrder = order;
                    olderX0?.Dispose();
                    olderX0 = lastX0;
                    lastX0 = x0.MoveToOuterDisposeScope();
                }
                lastSample?.Dispose();
                lastSample = x;
                x = next;
                pause.Checkpoint();
                progress?.Invoke(i + 1, steps);
            }
        }
        catch
        {
            x.Dispose();
            throw;
        }
        finally
        {
            olderX0?.Dispose();
            lastX0?.Dispose();
            lastSample?.Dispose();
        }
        return x;
    }

    static double Lambda(double sigma) => Math.Log(1 - sigma) - Math.Log(sigma);

    /// <summary>UniP: from x at σ_i to σ_{i+1}, using the x0 predictions m0 (at i) and mPrevious (at i−1) when order is 2.</summary>
    static Tensor Predict(IReadOnlyList<double> s, int i, int order, Tensor x, Tensor m0, Tensor? mPrevious)
    {
        double sigmaS = s[i], sigmaT = s[i + 1], alphaT = 1 - sigmaT;
        double h = Lambda(sigmaT) - Lambda(sigmaS); // +∞ when σ_t = 0: then e^−h − 1 = −1 and x_t = m0 exactly
        double phi1 = Math.Exp(-h) - 1;
        var xt = sigmaT / sigmaS * x - alphaT * phi1 * m0;
        if (order == 1) return xt;
        double r = (Lambda(s[i - 1]) - Lambda(sigmaS)) / h;
        var d1 = (mPrevious! - m0) / r;
        return xt - alphaT * phi1 * 0.5 * d1;
    }

    /// <summary>
    /// UniC: redoes the step σ_{i−1} → σ_i from the previous sample, now also using the x0 prediction mNew at σ_i
    /// (order = the order of the step being corrected).
    /// </summary>
    static Tensor Correct(IReadOnlyList<double> s, int i, int order, Tensor previousSample, Tensor mNew, Tensor m0, Tensor? mOlder)
    {
        double sigmaS = s[i - 1], sigmaT = s[i], alphaT = 1 - sigmaT;
        double h = Lambda(sigmaT) - Lambda(sigmaS);
        double hh = -h;
        double phi1 = Math.Exp(hh) - 1; // h·φ1; |hh| is far from 0 for any practical step count, so no expm1 needed
        var xt = sigmaT / sigmaS * previousSample - alphaT * phi1 * m0;
        var dNew = mNew - m0;
        if (order == 1) return xt - alphaT * phi1 * 0.5 * dNew;

        // Solve [1 1; r 1]·ρ = b for the divided differences at r (step i−2) and at 1 (the new point).
        double r = (Lambda(s[i - 2]) - Lambda(sigmaS)) / h;
        double k1 = phi1 / hh - 1, k2 = k1 / hh - 0.5;
        double b1 = k1 / phi1, b2 = 2 * k2 / phi1;
        double rho0 = (b1 - b2) / (1 - r), rho1 = b1 - rho0;
        var d1 = (mOlder! - m0) / r;
        return xt - alphaT * phi1 * (rho0 * d1 + rho1 * dNew);
    }
}

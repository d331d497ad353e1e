using static TorchSharp.torch;

namespace Turbo.Quantizer.Calibration;

/// <summary>
/// Watches one Linear layer's inputs during calibration (installed as its input observer): running channel absmax
/// and token-absmax histogram, plus <c>rowsPerCall</c> randomly chosen input rows from every call.
/// </summary>
public sealed class LayerObserver(long inFeatures, int rowsPerCall, Generator generator) : IDisposable
{
    Tensor? _channelAbsMax;
    Tensor _histogram = zeros(TokenHistogram.Bins, dtype: ScalarType.Float64);
    readonly List<Tensor> _rows = [];

    /// <remarks>
    /// Runs inside the model's dispose scopes, so the running state is detached from every scope (it outlives the call).
    /// </remarks>
    public void Observe(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = input.detach().reshape(-1, inFeatures).to(ScalarType.Float32);
        var magnitude = x.abs();
        var channel = magnitude.amax([0L]);
        var updated = _channelAbsMax is null ? channel : maximum(_channelAbsMax, channel);
        _channelAbsMax?.Dispose();
        _channelAbsMax = updated.DetachFromDisposeScope();
        var histogram = _histogram + TokenHistogram.Count(magnitude.amax([1L]));
        _histogram.Dispose();
        _histogram = histogram.DetachFromDisposeScope();
        long count = Math.Min(x.shape[0], rowsPerCall);
        var picked = randperm(x.shape[0], generator: generator).narrow(0, 0, count).to(x.device);
        _rows.Add(x.index_select(0, picked).cpu().DetachFromDisposeScope());
    }

    /// <summary>What was observed so far (copies; the observer stays usable).</summary>
    public LayerStatistics Statistics()
    {
        if (_channelAbsMax is null) throw new InvalidOperationException("the layer was never called during calibration");
        return new LayerStatistics(_channelAbsMax.cpu().clone(), _histogram.clone(), cat(_rows.ToArray()));
    }

    public void Dispose()
    {
        _channelAbsMax?.Dispose();
        _histogram.Dispose();
        foreach (var r in _rows) r.Dispose();
    }
}

namespace Turbo.Runtime;

/// <summary>The summaries every timing in the toolkit reports.</summary>
public static class Statistics
{
    /// <summary>The middle value (the mean of the two middle ones for an even count); at least one value.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        if (sorted.Count == 0) throw new TurboException("median of no values");
        int n = sorted.Count;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}

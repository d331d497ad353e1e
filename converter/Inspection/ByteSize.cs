using System.Globalization;

namespace Turbo.Converter.Inspection;

/// <summary>Human-readable byte counts (decimal units, as disk sizes and the Hub show them).</summary>
public static class ByteSize
{
    public static string Format(long bytes)
    {
        string[] units = ["B", "kB", "MB", "GB", "TB"];
        double value = bytes;
        int unit = 0;
        while (value >= 1000 && unit < units.Length - 1)
        {
            value /= 1000;
            unit++;
        }
        return unit == 0
            ? bytes.ToString(CultureInfo.InvariantCulture) + " B"
            : value.ToString(value >= 100 ? "F0" : value >= 10 ? "F1" : "F2", CultureInfo.InvariantCulture) + " " + units[unit];
    }
}

namespace Turbo.Tests.CalibrationData;

/// <summary>Files of the calibration-data project, found from the repository root (the folder holding Toolkit.sln).</summary>
static class ShapesTestFiles
{
    public static string InCalibrationData(params string[] parts) =>
        Path.Combine([RepositoryRoot(), "calibration-data", .. parts]);

    static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Toolkit.sln"))) dir = dir.Parent;
        Assert.That(dir, Is.Not.Null, "no Toolkit.sln above " + AppContext.BaseDirectory);
        return dir!.FullName;
    }
}

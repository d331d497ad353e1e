namespace Turbo.Converter.Files;

/// <summary>Writes a small file so that readers see either nothing or the whole text.</summary>
public static class AtomicFile
{
    public static void WriteAllText(string path, string text)
    {
        string temp = path + ".tmp";
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
    }
}

using TorchSharp;

namespace Turbo.Runtime.IO;

/// <summary>
/// A logical checkpoint: one .safetensors file; a folder of them (all *.safetensors in it, or, when it holds a
/// <c>*.safetensors.index.json</c>, the shards that index names); or the path of such an index. Every tensor name
/// must live in exactly one file, and an index must agree with its shards in both directions.
/// </summary>
public sealed class Checkpoint : IDisposable
{
    readonly IReadOnlyList<SafetensorsFile> _files;
    readonly Dictionary<string, SafetensorsFile> _fileOf;

    /// <summary>The folder holding the checkpoint's files.</summary>
    public string Root { get; }
    public IReadOnlyList<string> Files { get; }
    /// <summary>All tensors, file by file, each file's in offset order.</summary>
    public IReadOnlyList<TensorInfo> Tensors { get; }
    /// <summary>The <c>__metadata__</c> of the first file.</summary>
    public IReadOnlyDictionary<string, string> Metadata => _files[0].Metadata;

    Checkpoint(string root, IReadOnlyList<SafetensorsFile> files, Dictionary<string, SafetensorsFile> fileOf)
    {
        (Root, _files, _fileOf) = (root, files, fileOf);
        Files = files.Select(f => f.Path).ToList();
        Tensors = files.SelectMany(f => f.Tensors).ToList();
    }

    public static Checkpoint Open(string path)
    {
        if (Directory.Exists(path))
        {
            var indexes = Directory.GetFiles(path, "*" + ShardIndex.Suffix);
            if (indexes.Length > 1)
                throw new TurboException($"{path}: holds {indexes.Length} index files ({string.Join(", ", indexes.Select(System.IO.Path.GetFileName))}); name one");
            if (indexes.Length == 1) return OpenIndex(indexes[0]);
            var files = Directory.GetFiles(path, "*.safetensors").Order(StringComparer.Ordinal).ToList();
            if (files.Count == 0) throw new TurboException($"{path}: no *.safetensors files in this folder");
            return OpenFiles(path, files, weightMap: null, indexPath: null);
        }
        if (!File.Exists(path)) throw new TurboException($"{path}: no such file or folder");
        if (path.EndsWith(ShardIndex.Suffix, StringComparison.Ordinal)) return OpenIndex(path);
        return OpenFiles(FolderOf(path), [path], weightMap: null, indexPath: null);
    }

    static Checkpoint OpenIndex(string indexPath)
    {
        var weightMap = ShardIndex.ReadWeightMap(indexPath);
        string root = FolderOf(indexPath);
        var shards = weightMap.Values.Distinct().Order(StringComparer.Ordinal).Select(s => System.IO.Path.Combine(root, s)).ToList();
        foreach (string shard in shards)
            if (!File.Exists(shard))
                throw new TurboException($"{indexPath}: names shard '{System.IO.Path.GetFileName(shard)}', which does not exist in {root}");
        return OpenFiles(root, shards, weightMap, indexPath);
    }

    /// <summary>Opens every file and checks that each tensor is in exactly one file and, with an index, exactly where the index says.</summary>
    static Checkpoint OpenFiles(string root, List<string> paths, IReadOnlyDictionary<string, string>? weightMap, string? indexPath)
    {
        var files = new List<SafetensorsFile>();
        try
        {
            var fileOf = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
            foreach (string path in paths)
            {
                var file = SafetensorsFile.Open(path);
                files.Add(file);
                string shard = System.IO.Path.GetFileName(path);
                foreach (var t in file.Tensors)
                {
                    if (!fileOf.TryAdd(t.Name, file))
                        throw new TurboException($"{root}: tensor '{t.Name}' is in both {System.IO.Path.GetFileName(fileOf[t.Name].Path)} and {shard}");
                    if (weightMap is not null && !weightMap.ContainsKey(t.Name))
                        throw new TurboException($"{indexPath}: tensor '{t.Name}' of shard {shard} is missing from the weight_map");
                }
            }
            foreach (var (name, shard) in weightMap ?? new Dictionary<string, string>())
                if (!fileOf.TryGetValue(name, out var file) || System.IO.Path.GetFileName(file.Path) != shard)
                    throw new TurboException($"{indexPath}: weight_map puts tensor '{name}' in {shard}, but {shard} does not hold it");
            return new Checkpoint(root, files, fileOf);
        }
        catch
        {
            foreach (var file in files) file.Dispose();
            throw;
        }
    }

    static string FolderOf(string file) => System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(file))!;

    public bool Contains(string name) => _fileOf.ContainsKey(name);

    public TensorInfo Info(string name) => FileOf(name).Info(name);

    public torch.Tensor Read(string name) => FileOf(name).Read(name);

    SafetensorsFile FileOf(string name) => _fileOf.TryGetValue(name, out var file) ? file
        : throw new TurboException($"{Root}: no tensor named '{name}' in the checkpoint ({_fileOf.Count} tensors in {_files.Count} files)");

    public void Dispose()
    {
        foreach (var file in _files) file.Dispose();
    }
}

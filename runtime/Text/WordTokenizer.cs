using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace Turbo.Runtime.Text;

/// <summary>
/// A word-level tokenizer for small closed vocabularies (synthetic captions such as "a small red triangle moves left
/// over a dark blue background"). Text is lowercased and split into words, a word being a maximal run of letters and
/// digits (everything else separates words); each word maps to its id, unknown words to <c>&lt;unk&gt;</c>, and
/// <c>&lt;/s&gt;</c> ends every sequence, as in T5's tokenizers. Sequences are padded with <c>&lt;pad&gt;</c> to a fixed
/// length; the attention mask is 1 for real tokens (the words and <c>&lt;/s&gt;</c>) and 0 for padding.
///
/// The vocabulary file is a JSON object word → id with <c>&lt;pad&gt;</c> = 0, <c>&lt;/s&gt;</c> = 1,
/// <c>&lt;unk&gt;</c> = 2 and ids 0..N−1 each used once.
/// </summary>
public sealed class WordTokenizer
{
    public const string PadToken = "<pad>";
    public const string EndToken = "</s>";
    public const string UnknownToken = "<unk>";
    public const int PadId = 0;
    public const int EndId = 1;
    public const int UnknownId = 2;

    static readonly (string Token, int Id)[] SpecialTokens = [(PadToken, PadId), (EndToken, EndId), (UnknownToken, UnknownId)];

    readonly Dictionary<string, int> idOf;
    readonly string[] wordOf;

    WordTokenizer(Dictionary<string, int> vocabulary)
    {
        idOf = vocabulary;
        wordOf = new string[vocabulary.Count];
        foreach (var (word, id) in vocabulary) wordOf[id] = word;
    }

    /// <summary>Number of ids (the embedding rows a text encoder needs).</summary>
    public int VocabSize => wordOf.Length;

    /// <summary>The vocabulary, word → id.</summary>
    public IReadOnlyDictionary<string, int> Vocabulary => idOf;

    /// <summary>Reads a vocabulary file (JSON object word → id).</summary>
    public static WordTokenizer Load(string path)
    {
        string json;
        try { json = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TurboException($"{path}: cannot read the vocabulary ({e.Message})");
        }
        return FromJson(json, path);
    }

    /// <summary>Parses vocabulary JSON; <paramref name="source"/> names it in errors.</summary>
    public static WordTokenizer FromJson(string json, string source)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new TurboException($"{source}: the vocabulary is not valid JSON ({e.Message})"); }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new TurboException($"{source}: the vocabulary must be a JSON object of word → id");
            var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var entry in document.RootElement.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id))
                    throw new TurboException($"{source}: the id of \"{entry.Name}\" must be an integer, found {entry.Value.GetRawText()}");
                if (!vocabulary.TryAdd(entry.Name, id))
                    throw new TurboException($"{source}: \"{entry.Name}\" appears more than once");
            }
            return FromVocabulary(vocabulary, source);
        }
    }

    /// <summary>Checks a word → id map (special tokens, dense unique ids, words the splitter can produce) and wraps it.</summary>
    public static WordTokenizer FromVocabulary(IReadOnlyDictionary<string, int> vocabulary, string source)
    {
        foreach (var (token, id) in SpecialTokens)
        {
            if (!vocabulary.TryGetValue(token, out int found))
                throw new TurboException($"{source}: the vocabulary lacks the special token {token} (expected id {id})");
            if (found != id)
                throw new TurboException($"{source}: the special token {token} must have id {id}, found {found}");
        }
        var owner = new string?[vocabulary.Count];
        foreach (var (word, id) in vocabulary.OrderBy(w => w.Key, StringComparer.Ordinal))
        {
            if (id < 0 || id >= vocabulary.Count)
                throw new TurboException(
                    $"{source}: the id of \"{word}\" is {id}; ids must be 0..{vocabulary.Count - 1} (one per entry)");
            if (owner[id] is { } other)
                throw new TurboException($"{source}: \"{other}\" and \"{word}\" share the id {id}");
            owner[id] = word;
            if (!SpecialTokens.Any(s => s.Token == word) && !IsSingleWord(word))
                throw new TurboException(
                    $"{source}: \"{word}\" can never be produced by the tokenizer (words are lowercase runs of letters and digits)");
        }
        return new WordTokenizer(new Dictionary<string, int>(vocabulary, StringComparer.Ordinal));
    }

    /// <summary>
    /// A vocabulary holding every word of <paramref name="texts"/>: the special tokens, then the words in ordinal order
    /// (so the same texts always give the same ids).
    /// </summary>
    public static WordTokenizer Build(IEnumerable<string> texts)
    {
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (token, id) in SpecialTokens) vocabulary[token] = id;
        foreach (var word in texts.SelectMany(Words).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            vocabulary[word] = vocabulary.Count;
        return new WordTokenizer(vocabulary);
    }

    /// <summary>Writes the vocabulary as JSON (entries in id order), replacing <paramref name="path"/> only when complete.</summary>
    public void Save(string path)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            for (int id = 0; id < wordOf.Length; id++) writer.WriteNumber(wordOf[id], id);
            writer.WriteEndObject();
        }
        string temporary = path + ".tmp";
        try
        {
            File.WriteAllBytes(temporary, buffer.ToArray());
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (File.Exists(temporary)) File.Delete(temporary);
            throw new TurboException($"{path}: cannot write the vocabulary ({e.Message})");
        }
    }

    /// <summary>The words of a text: lowercased maximal runs of letters and digits, in order.</summary>
    public static IReadOnlyList<string> Words(string text)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        foreach (char c in text)
        {
            if (char.IsLetterOrDigit(c)) current.Append(char.ToLowerInvariant(c));
            else if (current.Length > 0)
            {
                words.Add(current.ToString());
                current.Clear();
            }
        }
        if (current.Length > 0) words.Add(current.ToString());
        return words;
    }

    /// <summary>
    /// Token ids of <paramref name="text"/>: its words, then <c>&lt;/s&gt;</c>, padded to <paramref name="maxLength"/>.
    /// A text with more than maxLength − 1 words keeps the first maxLength − 1 and still ends with <c>&lt;/s&gt;</c>.
    /// </summary>
    public TokenizedText Encode(string text, int maxLength)
    {
        if (maxLength < 1)
            throw new TurboException($"max length {maxLength}: expected at least 1 (room for {EndToken})");
        var words = Words(text);
        int kept = Math.Min(words.Count, maxLength - 1);
        var ids = new long[maxLength];
        var mask = new long[maxLength];
        var unknown = new List<string>();
        for (int i = 0; i < kept; i++)
        {
            if (idOf.TryGetValue(words[i], out int id)) ids[i] = id;
            else
            {
                ids[i] = UnknownId;
                if (!unknown.Contains(words[i])) unknown.Add(words[i]);
            }
            mask[i] = 1;
        }
        ids[kept] = EndId;
        mask[kept] = 1;
        return new TokenizedText(ids, mask, unknown, DroppedWords: words.Count - kept);
    }

    /// <summary>Encodes several texts to the same length: input_ids and attention_mask [texts, maxLength] int64.</summary>
    public TokenizedBatch EncodeBatch(IReadOnlyList<string> texts, int maxLength)
    {
        if (texts.Count == 0) throw new TurboException("no texts to encode");
        var encoded = texts.Select(t => Encode(t, maxLength)).ToArray();
        var ids = tensor(encoded.SelectMany(e => e.InputIds).ToArray(), [texts.Count, maxLength]);
        var mask = tensor(encoded.SelectMany(e => e.AttentionMask).ToArray(), [texts.Count, maxLength]);
        return new TokenizedBatch(ids, mask, encoded);
    }

    /// <summary>The words of a token id sequence up to the first <c>&lt;/s&gt;</c>, padding skipped, joined by spaces.</summary>
    public string Decode(IEnumerable<long> ids)
    {
        var words = new List<string>();
        foreach (long id in ids)
        {
            if (id < 0 || id >= wordOf.Length)
                throw new TurboException($"token id {id}: expected 0..{wordOf.Length - 1} (the vocabulary)");
            if (id == EndId) break;
            if (id != PadId) words.Add(wordOf[id]);
        }
        return string.Join(' ', words);
    }

    static bool IsSingleWord(string word) => Words(word) is [var only] && only == word;
}

/// <summary>One encoded text.</summary>
/// <param name="InputIds">token ids, padded to the max length</param>
/// <param name="AttentionMask">1 for the words and <c>&lt;/s&gt;</c>, 0 for padding</param>
/// <param name="UnknownWords">words not in the vocabulary (each once, in order of appearance), encoded as <c>&lt;unk&gt;</c></param>
/// <param name="DroppedWords">words cut off because the text did not fit</param>
public sealed record TokenizedText(long[] InputIds, long[] AttentionMask, IReadOnlyList<string> UnknownWords, int DroppedWords)
{
    public bool Truncated => DroppedWords > 0;
}

/// <summary>Several encoded texts as tensors [texts, maxLength] int64 (disposed with the batch), and each text's report.</summary>
public sealed class TokenizedBatch(Tensor inputIds, Tensor attentionMask, IReadOnlyList<TokenizedText> texts) : IDisposable
{
    public Tensor InputIds { get; } = inputIds;
    public Tensor AttentionMask { get; } = attentionMask;
    public IReadOnlyList<TokenizedText> Texts { get; } = texts;

    /// <summary>Every unknown word of the batch, each once.</summary>
    public IReadOnlyList<string> UnknownWords => Texts.SelectMany(t => t.UnknownWords).Distinct(StringComparer.Ordinal).ToArray();

    public void Dispose()
    {
        InputIds.Dispose();
        AttentionMask.Dispose();
    }
}

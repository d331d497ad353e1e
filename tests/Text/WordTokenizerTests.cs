using Turbo.Tests.Support;
using Turbo.Runtime;
using Turbo.Runtime.Models;
using Turbo.Runtime.Text;
using Turbo.Tests.IO;
using static TorchSharp.torch;

namespace Turbo.Tests.Text;

/// <summary>The word-level tokenizer: splitting, ids, padding, truncation, unknown words, vocabulary files.</summary>
public class WordTokenizerTests
{
    const string VocabJson = """
        {"<pad>": 0, "</s>": 1, "<unk>": 2, "a": 3, "small": 4, "red": 5, "triangle": 6, "moves": 7, "left": 8,
         "over": 9, "dark": 10, "blue": 11, "background": 12}
        """;

    static WordTokenizer Tokenizer() => WordTokenizer.FromJson(VocabJson, "vocab.json");

    [Test]
    public void CaptionBecomesWordIdsThenEndThenPadding()
    {
        var encoded = Tokenizer().Encode("a small red triangle moves left over a dark blue background", 16);
        Assert.That(encoded.InputIds, Is.EqualTo(new long[] { 3, 4, 5, 6, 7, 8, 9, 3, 10, 11, 12, 1, 0, 0, 0, 0 }));
        Assert.That(encoded.AttentionMask, Is.EqualTo(new long[] { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0 }));
        Assert.That(encoded.UnknownWords, Is.Empty);
        Assert.That(encoded.Truncated, Is.False);
    }

    [Test]
    public void CaseWhitespaceAndPunctuationDoNotMatter()
    {
        var tokenizer = Tokenizer();
        var plain = tokenizer.Encode("a small red triangle", 8);
        var messy = tokenizer.Encode("  A\tSMALL,red-Triangle!\n", 8);
        Assert.That(messy.InputIds, Is.EqualTo(plain.InputIds));
        Assert.That(WordTokenizer.Words("Red,  blue!dark"), Is.EqualTo(new[] { "red", "blue", "dark" }));
        Assert.That(WordTokenizer.Words(" ,.! "), Is.Empty);
    }

    [Test]
    public void UnknownWordsBecomeUnkAndAreReportedOnce()
    {
        var encoded = Tokenizer().Encode("a huge red hexagon, a huge one", 10);
        Assert.That(encoded.InputIds, Is.EqualTo(new long[] { 3, 2, 5, 2, 3, 2, 2, 1, 0, 0 }));
        Assert.That(encoded.UnknownWords, Is.EqualTo(new[] { "huge", "hexagon", "one" }));
    }

    [Test]
    public void LongTextIsTruncatedButStillEnds()
    {
        var tokenizer = Tokenizer();
        var cut = tokenizer.Encode("a small red triangle moves left", 4);
        Assert.That(cut.InputIds, Is.EqualTo(new long[] { 3, 4, 5, 1 }));
        Assert.That(cut.AttentionMask, Is.EqualTo(new long[] { 1, 1, 1, 1 }));
        Assert.That(cut.DroppedWords, Is.EqualTo(3));
        Assert.That(cut.Truncated, Is.True);

        var exactFit = tokenizer.Encode("a small red", 4);
        Assert.That(exactFit.InputIds, Is.EqualTo(new long[] { 3, 4, 5, 1 }));
        Assert.That(exactFit.Truncated, Is.False);

        var empty = tokenizer.Encode("", 3);
        Assert.That(empty.InputIds, Is.EqualTo(new long[] { 1, 0, 0 }));
        Assert.That(empty.AttentionMask, Is.EqualTo(new long[] { 1, 0, 0 }));
        Assert.Throws<TurboException>(() => tokenizer.Encode("a", 0));
    }

    [Test]
    public void DecodeInvertsEncodeForKnownWords()
    {
        var tokenizer = Tokenizer();
        var encoded = tokenizer.Encode("A dark-blue background.", 8);
        Assert.That(tokenizer.Decode(encoded.InputIds), Is.EqualTo("a dark blue background"));
        Assert.Throws<TurboException>(() => tokenizer.Decode([3, 13]));
    }

    [Test]
    public void BatchTensorsAreInt64RowsThatFeedTheTextEncoder()
    {
        var tokenizer = Tokenizer();
        using var batch = tokenizer.EncodeBatch(["a red triangle", "a small blue square moves left"], 6);
        Assert.That(batch.InputIds.shape, Is.EqualTo(new long[] { 2, 6 }));
        Assert.That(batch.InputIds.dtype, Is.EqualTo(ScalarType.Int64));
        using var second = batch.InputIds[1];
        Assert.That(second.data<long>().ToArray(), Is.EqualTo(new long[] { 3, 4, 11, 2, 7, 1 }));
        using var firstMask = batch.AttentionMask[0];
        Assert.That(firstMask.data<long>().ToArray(), Is.EqualTo(new long[] { 1, 1, 1, 1, 0, 0 }));
        Assert.That(batch.UnknownWords, Is.EqualTo(new[] { "square" }));

        var config = new Umt5Config
        {
            VocabSize = tokenizer.VocabSize, DModel = 8, DKv = 2, DFf = 16, NumLayers = 1, NumHeads = 4,
            RelativeAttentionNumBuckets = 8, RelativeAttentionMaxDistance = 16,
        };
        using var encoder = new Umt5Encoder(config);
        using var noGrad = no_grad();
        using var states = encoder.Forward(batch.InputIds, batch.AttentionMask);
        Assert.That(states.shape, Is.EqualTo(new long[] { 2, 6, 8 }));
    }

    [Test]
    public void BuiltVocabularyIsDeterministicAndRoundTripsThroughAFile()
    {
        string[] captions = ["A small red triangle moves left.", "a big green circle moves right over a dark background"];
        var built = WordTokenizer.Build(captions);
        var rebuilt = WordTokenizer.Build(captions.Reverse());
        Assert.That(built.Vocabulary, Is.EquivalentTo(rebuilt.Vocabulary));
        Assert.That(built.Vocabulary["<pad>"], Is.EqualTo(0));
        Assert.That(built.Vocabulary["</s>"], Is.EqualTo(1));
        Assert.That(built.Vocabulary["<unk>"], Is.EqualTo(2));
        Assert.That(built.Vocabulary["a"], Is.EqualTo(3), "words follow the special tokens in ordinal order");
        Assert.That(built.VocabSize, Is.EqualTo(3 + 13)); // a small red triangle moves left big green circle right over dark background

        using var folder = new TempFolder();
        string path = folder.PathTo("vocab.json");
        built.Save(path);
        var loaded = WordTokenizer.Load(path);
        Assert.That(loaded.Vocabulary, Is.EquivalentTo(built.Vocabulary));
        Assert.That(loaded.Encode(captions[1], 14).InputIds, Is.EqualTo(built.Encode(captions[1], 14).InputIds));
        Assert.That(File.Exists(path + ".tmp"), Is.False);
    }

    [TestCase("""{"</s>": 1, "<unk>": 2, "a": 0}""", "lacks the special token <pad>")]
    [TestCase("""{"<pad>": 0, "</s>": 2, "<unk>": 1}""", "</s> must have id 1, found 2")]
    [TestCase("""{"<pad>": 0, "</s>": 1, "<unk>": 2, "a": 3, "b": 3}""", "share the id 3")]
    [TestCase("""{"<pad>": 0, "</s>": 1, "<unk>": 2, "a": 4}""", "ids must be 0..3")]
    [TestCase("""{"<pad>": 0, "</s>": 1, "<unk>": 2, "a": "3"}""", "id of \"a\" must be an integer")]
    [TestCase("""{"<pad>": 0, "</s>": 1, "<unk>": 2, "a": 3, "a": 4}""", "\"a\" appears more than once")]
    [TestCase("""{"<pad>": 0, "</s>": 1, "<unk>": 2, "Red": 3}""", "\"Red\" can never be produced")]
    [TestCase("""{"<pad>": 0, "</s>": 1, "<unk>": 2, "dark blue": 3}""", "\"dark blue\" can never be produced")]
    [TestCase("""["<pad>", "</s>"]""", "must be a JSON object")]
    [TestCase("""{"<pad>": 0,""", "not valid JSON")]
    public void BadVocabularyIsOneLineErrorNamingTheFile(string json, string expected)
    {
        var error = Assert.Throws<TurboException>(() => WordTokenizer.FromJson(json, "tokenizer/vocab.json"));
        Assert.That(error!.Message, Does.StartWith("tokenizer/vocab.json: ").And.Contain(expected));
        Assert.That(error.Message, Does.Not.Contain('\n'));
    }

    [Test]
    public void MissingVocabularyFileIsNamed()
    {
        using var folder = new TempFolder();
        string path = folder.PathTo("vocab.json");
        Assert.That(Assert.Throws<TurboException>(() => WordTokenizer.Load(path))!.Message, Does.StartWith(path));
        Assert.That(Assert.Throws<TurboException>(() => Tokenizer().Save(folder.PathTo("absent/vocab.json")))!.Message,
            Does.Contain("cannot write the vocabulary"));
    }
}

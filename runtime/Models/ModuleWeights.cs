using static TorchSharp.torch;

namespace Turbo.Runtime.Models;

/// <summary>
/// Loads named weights into a module's parameters. Names and shapes are checked for every parameter before the
/// first copy, so a wrong checkpoint fails with one clear message instead of a half-loaded model (or a libtorch
/// abort on a shape mismatch). Tensors are converted to each parameter's dtype and device while copying.
/// </summary>
public static class ModuleWeights
{
    public static void Load(nn.Module module, IReadOnlyDictionary<string, Tensor> weights, string source)
    {
        var parameters = module.named_parameters().ToList();
        var problems = new List<string>();
        foreach (var (name, parameter) in parameters)
        {
            if (!weights.TryGetValue(name, out var tensor)) problems.Add($"tensor {name} is missing");
            else if (Problem(name, parameter, tensor.shape) is { } shapeProblem) problems.Add(shapeProblem);
            else if (!tensor.is_floating_point()) problems.Add($"tensor {name}: expected a floating-point dtype, found {tensor.dtype}");
        }
        var expected = parameters.Select(p => p.name).ToHashSet();
        problems.AddRange(weights.Keys.Where(n => !expected.Contains(n)).Order(StringComparer.Ordinal)
            .Select(n => $"tensor {n} is not a parameter of this model"));
        ThrowIfAny(problems, source);

        using var noGrad = no_grad();
        foreach (var (name, parameter) in parameters) parameter.copy_(weights[name]);
    }

    public static void Load(nn.Module module, Func<string, long[]?> shapeOf, Func<string, Tensor> read, string source)
    {
        var parameters = module.named_parameters().ToList();
        var problems = new List<string>();
        foreach (var (name, parameter) in parameters)
        {
            var shape = shapeOf(name);
            if (shape is null) problems.Add($"tensor {name} is missing");
            else if (Problem(name, parameter, shape) is { } shapeProblem) problems.Add(shapeProblem);
        }
        ThrowIfAny(problems, source);

        using var noGrad = no_grad();
        foreach (var (name, parameter) in parameters)
        {
            using var tensor = read(name);
            if (Problem(name, parameter, tensor.shape) is { } readProblem) ThrowIfAny([readProblem], source);
            if (!tensor.is_floating_point())
                ThrowIfAny([$"tensor {name}: expected a floating-point dtype, found {tensor.dtype}"], source);
            parameter.copy_(tensor);
        }
    }

    static string? Problem(string name, Tensor parameter, long[] found) =>
        parameter.shape.SequenceEqual(found)
            ? null
            : $"tensor {name}: expected shape {WanModel.ShapeText(parameter.shape)}, found {WanModel.ShapeText(found)}";

    static void ThrowIfAny(List<string> problems, string source)
    {
        if (problems.Count == 0) return;
        string more = problems.Count > 1 ? $" (and {problems.Count - 1} more problem{(problems.Count > 2 ? "s" : "")})" : "";
        throw new TurboException($"{source}: {problems[0]}{more}");
    }
}

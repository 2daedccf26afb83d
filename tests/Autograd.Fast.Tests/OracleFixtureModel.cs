using System.Text.Json;

namespace AutogradFast.Tests;

// The parts of a PyTorch fixture every oracle suite reads the same way (tests/oracle/*.py write them):
// tensors as {dtype, shape, values}, a case's named inputs, and its output.

/// <summary>The inputs of one case by name (x, y, z, w, b, c as in the Python; others by indexer).</summary>
internal sealed class Inputs
{
    private readonly Dictionary<string, Tensor> _byName = [];

    public void Add(string name, Tensor t) => _byName.Add(name, t);

    public Tensor this[string name] => _byName.TryGetValue(name, out Tensor t) ? t : throw new KeyNotFoundException($"the case has no input '{name}'");

    public Tensor X => this["x"];
    public Tensor Y => this["y"];
    public Tensor Z => this["z"];
    public Tensor W => this["w"];
    public Tensor B => this["b"];
    public Tensor C => this["c"];
}

internal sealed record TensorData(DType DType, int[] Shape, double[] Values)
{
    public Tensor ToTensor(bool requiresGrad) => DType == DType.Float32
        ? Tensor.FromSpan<float>(Array.ConvertAll(Values, v => (float)v), Shape, requiresGrad)
        : Tensor.FromSpan<double>(Values, Shape, requiresGrad);

    public static TensorData Of(Tensor t) => new(t.DType, t.Shape.ToArray(),
        t.DType == DType.Float32 ? Array.ConvertAll(t.ToArray<float>(), v => (double)v) : t.ToArray<double>());

    /// <summary>A fixture's <c>{"dtype", "shape", "values"}</c>.</summary>
    public static TensorData Read(JsonElement e) => new(
        e.GetProperty("dtype").GetString() switch
        {
            "float32" => DType.Float32,
            "float64" => DType.Float64,
            string other => throw new InvalidDataException($"unexpected dtype {other}"),
            null => throw new InvalidDataException("missing dtype"),
        },
        e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray(),
        e.GetProperty("values").EnumerateArray().Select(d => d.GetDouble()).ToArray());

    /// <summary><see cref="Read"/>, or null where the fixture has null (no gradient).</summary>
    public static TensorData? ReadOrNull(JsonElement e) => e.ValueKind == JsonValueKind.Null ? null : Read(e);
}

internal sealed record InputSpec(string Name, bool RequiresGrad, TensorData Data)
{
    public static InputSpec[] ReadAll(JsonElement inputs) => inputs.EnumerateArray()
        .Select(i => new InputSpec(i.GetProperty("name").GetString()!, i.GetProperty("requires_grad").GetBoolean(), TensorData.Read(i)))
        .ToArray();
}

internal sealed record OutputSpec(string GradFn, TensorData Data)
{
    public static OutputSpec Read(JsonElement output) => new(output.GetProperty("grad_fn").GetString()!, TensorData.Read(output));
}

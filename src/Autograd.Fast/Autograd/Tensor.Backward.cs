namespace AutogradFast;

public readonly partial struct Tensor
{
    /// <summary>
    /// <c>y.backward(gradient, retain_graph, create_graph, inputs)</c>: accumulates d(y·gradient)/dx
    /// into the <c>.Grad</c> of every leaf that requires grad (of only <paramref name="inputs"/>, when
    /// given: leaves or not). Without <paramref name="gradient"/>, y must have one element. Saved
    /// values are freed afterwards unless <paramref name="retainGraph"/> (which defaults to
    /// <paramref name="createGraph"/>). With <paramref name="createGraph"/> the gradients are computed
    /// by recorded ops, so a <c>.Grad</c> has a graph of its own and can be differentiated again.
    /// </summary>
    public void Backward(Tensor? gradient = null, bool? retainGraph = null, bool createGraph = false, ReadOnlySpan<Tensor> inputs = default)
        => Graph.Engine.Backward(this, gradient, retainGraph, createGraph, inputs);
}

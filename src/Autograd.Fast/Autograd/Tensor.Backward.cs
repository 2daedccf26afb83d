namespace AutogradFast;

public readonly partial struct Tensor
{
    /// <summary>
    /// <c>y.backward(gradient)</c>: accumulates d(y·gradient)/dx into the <c>.Grad</c> of every leaf
    /// that requires grad. Without <paramref name="gradient"/>, y must have one element. Saved values
    /// are freed afterwards unless <paramref name="retainGraph"/>.
    /// </summary>
    public void Backward(Tensor? gradient = null, bool retainGraph = false) => Graph.Engine.Backward(this, gradient, retainGraph);
}

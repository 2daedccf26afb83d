using AutogradFast.Ops;

namespace AutogradFast;

/// <summary>
/// <c>torch.autograd.functional</c>: Jacobians, Hessians and vector products of a function at a point.
/// As in PyTorch, f is called on a copy of x that requires grad (the caller's x need not), with grad
/// mode on; results are detached unless <c>createGraph</c> is true, in which case they carry a graph
/// (back to x, when x requires grad) and can be differentiated again. Without <c>createGraph</c>
/// everything the transform records is released before it returns.
/// </summary>
public static class Functional
{
    /// <summary>
    /// <c>torch.autograd.functional.jacobian(f, x)</c>: J[i..., j...] = ∂f(x)[i...]/∂x[j...], of shape
    /// f(x).shape followed by x.shape, in x's dtype (one backward per output element). Zeros where
    /// f(x) does not depend on x (PyTorch's <c>strict=False</c>).
    /// </summary>
    public static Tensor Jacobian(Func<Tensor, Tensor> f, Tensor x, bool createGraph = false)
    {
        ArgumentNullException.ThrowIfNull(f);
        return Jacobian(xs => [f(xs[0])], [x], createGraph)[0][0];
    }

    /// <summary>
    /// <c>torch.autograd.functional.jacobian(f, (x0, x1, ...))</c> for a function with several inputs and
    /// outputs: result[i][j] = ∂ output i / ∂ xs[j], of shape output i's shape followed by xs[j]'s.
    /// </summary>
    public static Tensor[][] Jacobian(Func<Tensor[], Tensor[]> f, Tensor[] xs, bool createGraph = false)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(xs);
        if (createGraph) return JacobianOf(f, xs, createGraph: true);
        using AutogradScope scope = Autograd.Scope();
        Tensor[][] jacobians = JacobianOf(f, xs, createGraph: false);
        return jacobians.Select(row => row.Select(scope.Keep).ToArray()).ToArray();
    }

    /// <summary>
    /// <c>torch.autograd.functional.hessian(f, x)</c>: H[i..., j...] = ∂²f(x)/∂x[i...]∂x[j...] of a function
    /// whose result has one element, of shape x.shape followed by x.shape (with the result's own
    /// dimensions in front when it has any: a result of shape [1] gives [1] ++ x.shape ++ x.shape, as in PyTorch).
    /// It is the Jacobian of the Jacobian computed with a graph.
    /// </summary>
    public static Tensor Hessian(Func<Tensor, Tensor> f, Tensor x, bool createGraph = false)
    {
        ArgumentNullException.ThrowIfNull(f);
        return Jacobian(y => Jacobian(z => SingleElement(f(z), "hessian"), y, createGraph: true), x, createGraph);
    }

    /// <summary>
    /// <c>torch.autograd.functional.vjp(f, x, v)</c>: f(x) and the vector-Jacobian product vᵀJ (shaped as
    /// x). <paramref name="v"/> has f(x)'s shape; it may be null only when f(x) has one element.
    /// </summary>
    public static (Tensor Output, Tensor Vjp) Vjp(Func<Tensor, Tensor> f, Tensor x, Tensor? v = null, bool createGraph = false)
    {
        ArgumentNullException.ThrowIfNull(f);
        return InScope(createGraph, () =>
        {
            Tensor input = Input(x, createGraph);
            Tensor y = f(input);
            Tensor? u = null;
            if (v is { } given)
            {
                if (given.Shape != y.Shape) ThrowHelper.FunctionalVInvalidSize(y.Shape, given.Shape);
                u = Input(given, createGraph, needGraph: false);
            }
            else if (y.NumEl() != 1) ThrowHelper.FunctionalVjpNeedsV();
            Tensor? g = y.RequiresGrad ? Autograd.Grad([y], [input], [u], createGraph: createGraph, allowUnused: true)[0] : null;
            Tensor vjp = g ?? Tensor.ZerosLike(input);
            return (y, vjp);
        });
    }

    /// <summary>
    /// <c>torch.autograd.functional.jvp(f, x, v)</c>: f(x) and the Jacobian-vector product J·v (shaped as
    /// f(x)), computed in one forward pass with dual tensors (<see cref="ForwardAD.Jvp"/>), not by the
    /// double-backward trick PyTorch 1.13 uses. <paramref name="v"/> has x's shape (it is cast to x's dtype).
    /// </summary>
    public static (Tensor Output, Tensor Jvp) Jvp(Func<Tensor, Tensor> f, Tensor x, Tensor v, bool createGraph = false)
    {
        ArgumentNullException.ThrowIfNull(f);
        if (v.Shape != x.Shape) ThrowHelper.FunctionalVInvalidSize(x.Shape, v.Shape);
        return InScope(createGraph, () =>
        {
            Tensor input = Input(x, createGraph);
            Tensor direction = Direction(v, input, createGraph);
            var (y, jvp) = ForwardAD.Jvp(f, input, direction);
            return (y, jvp);
        });
    }

    /// <summary>
    /// <c>torch.autograd.functional.hvp(f, x, v)</c>: f(x) (one element) and the Hessian-vector product
    /// H·v (shaped as x), by forward over reverse: the tangent, along v, of the gradient of f computed
    /// with a graph inside a dual level.
    /// </summary>
    public static (Tensor Output, Tensor Hvp) Hvp(Func<Tensor, Tensor> f, Tensor x, Tensor v, bool createGraph = false)
    {
        ArgumentNullException.ThrowIfNull(f);
        if (v.Shape != x.Shape) ThrowHelper.FunctionalVInvalidSize(x.Shape, v.Shape);
        return InScope(createGraph, () =>
        {
            Tensor input = Input(x, createGraph);
            Tensor direction = Direction(v, input, createGraph);
            Tensor y, hvp;
            using (ForwardAD.DualLevel())
            {
                Tensor dual = ForwardAD.MakeDual(input, direction);
                y = SingleElement(f(dual), "hvp");
                Tensor? g = y.RequiresGrad ? Autograd.Grad(y, dual, createGraph: true, allowUnused: true) : null;
                Tensor? tangent = g is { } gradient ? ForwardAD.UnpackDual(gradient).Tangent : null;
                // the tangent is released with the level: keep a copy (zeros where the gradient does not move along v)
                hvp = tangent is { } t ? t.Clone() : Tensor.ZerosLike(input);
            }
            return (y, hvp);
        });
    }

    /// <summary>
    /// <c>torch.autograd.functional.vhp(f, x, v)</c>: f(x) (one element) and the vector-Hessian product
    /// vᵀH (shaped as x), by reverse over reverse: the gradient of the gradient, weighted by v. For a
    /// twice continuously differentiable f the Hessian is symmetric, so this equals <see cref="Hvp"/>.
    /// </summary>
    public static (Tensor Output, Tensor Vhp) Vhp(Func<Tensor, Tensor> f, Tensor x, Tensor v, bool createGraph = false)
    {
        ArgumentNullException.ThrowIfNull(f);
        if (v.Shape != x.Shape) ThrowHelper.FunctionalVInvalidSize(x.Shape, v.Shape);
        return InScope(createGraph, () =>
        {
            Tensor input = Input(x, createGraph);
            Tensor direction = Direction(v, input, createGraph);
            Tensor y = SingleElement(f(input), "vhp");
            Tensor? g = y.RequiresGrad ? Autograd.Grad(y, input, createGraph: true, allowUnused: true) : null;
            Tensor? vhp = g is { RequiresGrad: true } gradient
                ? Autograd.Grad(gradient, input, direction, createGraph: createGraph, allowUnused: true)
                : null;
            Tensor result = vhp ?? Tensor.ZerosLike(input);
            return (y, result);
        });
    }

    // ---- the parts ----

    /// <summary>
    /// What f is called on (PyTorch's <c>_grad_preprocess</c>): with a graph, a view of x when x requires
    /// grad (so results stay differentiable with respect to x); otherwise x detached, requiring grad
    /// when <paramref name="needGraph"/>.
    /// </summary>
    private static Tensor Input(Tensor x, bool createGraph, bool needGraph = true)
    {
        if (createGraph && x.RequiresGrad) return x.Expand(x.Shape.AsSpan()); // x.view_as(x)
        Tensor detached = x.Detach();
        return needGraph ? detached.RequiresGrad_() : detached;
    }

    private static Tensor Direction(Tensor v, Tensor input, bool createGraph)
    {
        Tensor direction = Input(v, createGraph, needGraph: false);
        return direction.DType == input.DType ? direction : direction.To(input.DType);
    }

    private static Tensor SingleElement(Tensor y, string transform)
    {
        if (y.NumEl() != 1) ThrowHelper.FunctionalNotSingleElement(transform, y.Shape);
        return y;
    }

    private static Tensor[][] JacobianOf(Func<Tensor[], Tensor[]> f, Tensor[] xs, bool createGraph)
    {
        using GradModeScope gradOn = Autograd.EnableGrad();
        Tensor[] inputs = xs.Select(x => Input(x, createGraph)).ToArray();
        Tensor[] outputs = f(inputs);
        var result = new Tensor[outputs.Length][];
        for (int i = 0; i < outputs.Length; i++)
        {
            Tensor o = outputs[i];
            result[i] = new Tensor[inputs.Length];
            for (int j = 0; j < inputs.Length; j++)
            {
                int[] shape = [.. o.Shape.AsSpan(), .. inputs[j].Shape.AsSpan()];
                if (shape.Length > 8) ThrowHelper.FunctionalJacobianRank(o.Shape, inputs[j].Shape);
                result[i][j] = Tensor.Zeros(shape, inputs[j].DType);
            }
            if (!o.RequiresGrad) continue; // independent of every input: zeros
            var oneHot = new double[o.NumEl()];
            for (int e = 0; e < oneHot.Length; e++)
            {
                // Rows of a plain Jacobian are written into J and dropped; with a graph they are J's history.
                AutogradScope? row = createGraph ? null : Autograd.Scope();
                try
                {
                    Array.Clear(oneHot);
                    oneHot[e] = 1;
                    Tensor u = Tensor.FromSpan<double>(oneHot, o.Shape.AsSpan());
                    if (o.DType != DType.Float64) u = u.To(o.DType);
                    Tensor?[] g = Autograd.Grad([o], inputs, [u], retainGraph: true, createGraph: createGraph, allowUnused: true);
                    for (int j = 0; j < inputs.Length; j++)
                        if (g[j] is { } gj) Views.Assign(result[i][j], RowGeometry(inputs[j], e), gj);
                }
                finally
                {
                    row?.Dispose();
                }
            }
        }
        return result;
    }

    /// <summary>Where row e (output element e's gradient, shaped as x) sits in a contiguous J of shape out.shape ++ x.shape.</summary>
    private static ViewGeometry RowGeometry(Tensor x, int e) => Views.ContiguousGeometry(x.Ctx.Records[x.Slot], offset: e * x.NumEl());

    /// <summary>
    /// Runs a vector-product transform with grad mode on; without <paramref name="createGraph"/> inside
    /// a scope, so that everything it records is released and only its two results (detached copies) remain.
    /// </summary>
    private static (Tensor, Tensor) InScope(bool createGraph, Func<(Tensor, Tensor)> transform)
    {
        if (createGraph)
        {
            using GradModeScope gradOn = Autograd.EnableGrad();
            return transform();
        }
        using AutogradScope scope = Autograd.Scope();
        using (Autograd.EnableGrad())
        {
            (Tensor a, Tensor b) = transform();
            return (scope.Keep(a), scope.Keep(b));
        }
    }
}

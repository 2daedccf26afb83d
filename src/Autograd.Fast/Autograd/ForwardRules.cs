using AutogradFast.Ops;

namespace AutogradFast.Graph;

/// <summary>
/// Every op kind's forward-mode rule (derivatives.yaml's <c>result:</c> line), written with
/// <see cref="Var"/> ops. A switch without a default arm: a kind without a rule does not compile.
/// </summary>
internal static class Rules
{
#pragma warning disable CS8524
    public static Var? Jvp(OpKind kind, ref Forward f) => kind switch
    {
        OpKind.Add => Forward.Plus(f.Tangent(0), f.Tangent(1)),
        OpKind.AddScalar or OpKind.SubScalar => f.Tangent(0),
        // add with alpha: self_t + alpha * other_t
        OpKind.AddAlpha => Forward.Plus(f.Tangent(0), f.Tangent(1) is Var t1 ? t1 * f.Scalar : null),
        OpKind.Sub => Forward.Plus(f.Tangent(0), Neg(f.Tangent(1))),
        OpKind.RsubScalar or OpKind.Neg => Neg(f.Tangent(0)),
        // mul: self_t * other + other_t * self
        OpKind.Mul => Forward.Plus(Times(f.Tangent(0), f.Input(1)), Times(f.Tangent(1), f.Input(0))),
        OpKind.MulScalar => f.Tangent(0) is Var t ? t * f.Scalar : null,
        // div: (self_t - other_t * result) / other
        OpKind.Div => Forward.Plus(f.Tangent(0), Neg(Times(f.Tangent(1), f.Result))) is Var n ? n / f.Input(1) : null,
        OpKind.DivScalar => f.Tangent(0) is Var t ? t / f.Scalar : null,
        // reciprocal: -self_t * result * result
        OpKind.Reciprocal => f.Tangent(0) is Var t ? -t * (f.Result * f.Result) : null,
        // pow: pow_backward(self_t, self, exponent)
        OpKind.PowScalar => f.Tangent(0) is Var t ? Var.PowBackward(t, f.Input(0), f.Scalar) : null,
        OpKind.Exp => Times(f.Tangent(0), f.Result),
        OpKind.Log => f.Tangent(0) is Var t ? t / f.Input(0) : null,
        OpKind.Tanh => f.Tangent(0) is Var t ? Var.TanhBackward(t, f.Result) : null,
        OpKind.Sigmoid => f.Tangent(0) is Var t ? Var.SigmoidBackward(t, f.Result) : null,
        OpKind.Relu => f.Tangent(0) is Var t ? Var.ThresholdBackward(t, f.Result) : null,
        // a * (k * b): a_t * (k * b) + a * (k * b_t)
        OpKind.ScaledMul or OpKind.DoubledProduct => Forward.Plus(
            f.Tangent(0) is Var ta ? Var.ScaledMul(ta, f.Input(1), f.Scalar) : null,
            f.Tangent(1) is Var tb ? Var.ScaledMul(f.Input(0), tb, f.Scalar) : null),
        OpKind.Sum => f.Tangent(0)?.Sum(),
        OpKind.Mean => f.Tangent(0)?.Mean(),
        // norm: (self * self_t).sum() / result, 0 where result is 0
        OpKind.Norm => f.Tangent(0) is Var t ? Var.Where(f.Result.EqualTo(0), f.Result.Constant(0), (f.Input(0) * t).Sum() / f.Result) : null,
        OpKind.SumToSize or OpKind.SumToSizeView or OpKind.SumToScalar => f.Tangent(0) is Var t ? t.SumToSize(f.Result.Shape, f.Result.Rank) : null,
        OpKind.Dot => Forward.Plus(f.Tangent(0) is Var ta ? Var.Dot(ta, f.Input(1)) : null, f.Tangent(1) is Var tb ? Var.Dot(f.Input(0), tb) : null),
        OpKind.Mm => Forward.Plus(f.Tangent(0) is Var ta ? Var.Mm(ta, f.Input(1)) : null, f.Tangent(1) is Var tb ? Var.Mm(f.Input(0), tb) : null),
        OpKind.Mv => Forward.Plus(f.Tangent(0) is Var ta ? Var.Mv(ta, f.Input(1)) : null, f.Tangent(1) is Var tb ? Var.Mv(f.Input(0), tb) : null),
        OpKind.T => f.Tangent(0)?.T(),
        OpKind.Transpose => f.Tangent(0)?.Transpose(f.Arg0, f.Arg1),
        // the same part of the tangent (its region in the coordinates of a dense tensor of the input's shape)
        OpKind.Select or OpKind.Slice => f.Tangent(0) is Var t ? Var.RegionOf(t, f.Geometry) : null,
        OpKind.Unsqueeze => f.Tangent(0)?.Unsqueeze(f.Arg0),
        OpKind.Squeeze or OpKind.SqueezeInPlace => f.Tangent(0)?.Squeeze(f.Arg0),
        OpKind.Expand => f.Tangent(0)?.Expand(f.Result.Shape, f.Result.Rank),
        // copy_slices: the base's tangent with the region replaced by the value's
        OpKind.CopySlices => CopySlices(ref f),
        // copy_: the source's tangent (zeros when it has none)
        OpKind.Copy => f.Tangent(1) ?? f.Result.ZerosLike(),
        // zero_, fill_: a constant (a zero tangent)
        OpKind.Zero or OpKind.Fill => null,
        OpKind.Clone or OpKind.MakeDual => f.Tangent(0)?.Clone(),
        OpKind.ToCopy => f.Tangent(0)?.To(f.Result.DType),
        // where: where(condition, self_t, other_t)
        OpKind.Where => f.Tangent(1) is null && f.Tangent(2) is null ? null
            : Var.Where(f.Input(0), f.Tangent(1) ?? f.Result.Constant(0), f.Tangent(2) ?? f.Result.Constant(0)),
        // pow_backward(grad, self, p): grad_t * p self^(p-1) + grad * self_t * p (p-1) self^(p-2)
        OpKind.PowBackward => Forward.Plus(
            f.Tangent(0) is Var tg ? Var.PowBackward(tg, f.Input(1), f.Scalar) : null,
            f.Tangent(1) is Var ts && f.Scalar != 0 ? Var.PowBackward(f.Input(0) * ts, f.Input(1), f.Scalar - 1) * f.Scalar : null),
        // tanh_backward(grad, y): tanh_backward(grad_t, y) - 2 y y_t grad
        OpKind.TanhBackward => Forward.Plus(
            f.Tangent(0) is Var tg ? Var.TanhBackward(tg, f.Input(1)) : null,
            f.Tangent(1) is Var ty ? f.Input(1) * f.Input(0) * ty * -2.0 : null),
        // sigmoid_backward(grad, y): sigmoid_backward(grad_t, y) + grad y_t (1 - 2 y)
        OpKind.SigmoidBackward => Forward.Plus(
            f.Tangent(0) is Var tg ? Var.SigmoidBackward(tg, f.Input(1)) : null,
            f.Tangent(1) is Var ty ? f.Input(0) * ty * (1.0 - f.Input(1) * 2.0) : null),
        // threshold_backward(grad, y): threshold_backward(grad_t, y) (flat in y)
        OpKind.ThresholdBackward => f.Tangent(0) is Var tg ? Var.ThresholdBackward(tg, f.Input(1)) : null,
        OpKind.RegionScatter or OpKind.SelectBackward or OpKind.SliceBackward
            => f.Tangent(0) is Var t ? Var.RegionScatter(t, f.Result.Shape, f.Result.Rank, f.Geometry, kind) : null,
        OpKind.RegionOf => f.Tangent(0) is Var t ? Var.RegionOf(t, f.Geometry) : null,
        OpKind.RegionZeroed => f.Tangent(0) is Var t ? Var.RegionZeroed(t, f.Geometry) : null,
        // a custom function: each output's tangent from the function's Jvp (its node's hidden vector has none)
        OpKind.Custom => null,
        OpKind.CustomOutput => f.Function!.Tangent(ref f, f.Arg0),
    };
#pragma warning restore CS8524

    private static Var? Neg(Var? t) => t is Var v ? -v : null;

    private static Var? Times(Var? t, Var x) => t is Var v ? v * x : null;

    private static Var? CopySlices(ref Forward f)
    {
        Var? tb = f.Tangent(0), tv = f.Tangent(1);
        if (tb is null && tv is null) return null;
        Var? kept = tb is Var b ? Var.RegionZeroed(b, f.Geometry) : null;
        Var? written = null;
        if (tv is Var v)
        {
            while (v.Rank > f.Geometry.Rank) v = v.Squeeze(0); // leading size-1 dims, as index assignment drops them
            Var whole = f.Result;
            written = Var.RegionScatter(v.To(whole.DType), whole.Shape, whole.Rank, f.Geometry);
        }
        return Forward.Plus(kept, written);
    }
}

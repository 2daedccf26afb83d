using AutogradFast.Ops;
using AutogradFast.Storage;

namespace AutogradFast.Graph;

/// <summary>
/// The derivative table: one arm per op kind, each computing the local vector-Jacobian product of
/// the incoming gradient <c>g</c> for the inputs that need one (the engine sums broadcasts back and
/// routes the results). A rule may hand <c>g</c> itself on as an input's gradient (a move).
/// </summary>
internal static class Derivatives
{
    public static void Apply(TensorContext c, ref Node n, int g, out int g0, out int g1)
    {
        g1 = -1;
        switch (n.Kind)
        {
            case OpKind.Add: Arithmetic.AddBackward(c, ref n, g, out g0, out g1); break;          // g, g
            case OpKind.Sub: Arithmetic.SubBackward(c, ref n, g, out g0, out g1); break;          // g, -g
            case OpKind.Mul: Arithmetic.MulBackward(c, ref n, g, out g0, out g1); break;          // g·b, g·a
            case OpKind.Div: Arithmetic.DivBackward(c, ref n, g, out g0, out g1); break;          // g/b, -g·a/b²
            case OpKind.AddScalar:                                                                // g
            case OpKind.SubScalar:                                                                // g
            case OpKind.RsubScalar:                                                               // -g
            case OpKind.MulScalar:                                                                // g·s
            case OpKind.DivScalar: g0 = Arithmetic.ScalarBackward(c, ref n, g); break;            // g/s
            case OpKind.Neg: g0 = Arithmetic.NegBackward(c, g); break;                            // -g
            case OpKind.Reciprocal: g0 = Arithmetic.ReciprocalBackward(c, ref n, g); break;       // -g·y²
            case OpKind.PowScalar: g0 = Exponential.PowBackward(c, ref n, g); break;              // g·p·a^(p-1)
            case OpKind.Exp:                                                                      // g·y
            case OpKind.Log:                                                                      // g/a
            case OpKind.Tanh:                                                                     // g·(1-y²)
            case OpKind.Sigmoid: g0 = Exponential.TranscendentalBackward(c, ref n, g); break;     // g·(1-y)·y
            case OpKind.Relu: g0 = Exponential.ReluBackward(c, ref n, g); break;                  // y>0 ? g : 0
            case OpKind.Sum:                                                                      // expand(g)
            case OpKind.Mean: g0 = Reduction.SumBackward(c, ref n, g); break;                     // expand(g)/n
            case OpKind.Norm: g0 = Reduction.NormBackward(c, ref n, g); break;                    // a·g/y
            case OpKind.Dot: Products.DotBackward(c, ref n, g, out g0, out g1); break;            // g·b, g·a
            case OpKind.Mm: Products.MmBackward(c, ref n, g, out g0, out g1); break;              // g·bᵀ, aᵀ·g
            case OpKind.Mv: Products.MvBackward(c, ref n, g, out g0, out g1); break;              // g⊗v, aᵀ·g
            case OpKind.T:                                                                        // gᵀ
            case OpKind.Transpose:                                                                // gᵀ
            case OpKind.Select:                                                                   // zeros with g at [i]
            case OpKind.Slice:                                                                    // zeros with g at [a:b:s]
            case OpKind.Unsqueeze:                                                                // reshape(g)
            case OpKind.Expand:                                                                   // sum_to(g, a.shape), by the engine
            case OpKind.Squeeze: g0 = Views.ViewBackward(c, ref n, g); break;                     // reshape(g)
            case OpKind.CopySlices: Views.CopySlicesBackward(c, ref n, g, out g0, out g1); break; // g with region zeroed, g[region]
            case OpKind.Copy: InPlace.CopyBackward(c, ref n, g, out g0, out g1); break;           // zeros, g
            case OpKind.Clone:                                                                    // g
            case OpKind.ToCopy: g0 = Copies.IdentityBackward(g); break;                           // g (cast back by the engine)
            default: throw new InvalidOperationException($"No derivative rule for {n.Kind}.");
        }
    }
}

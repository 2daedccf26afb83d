using AutogradFast.Simd;
using AutogradFast.Storage;

namespace AutogradFast.Ops;

/// <summary>Gradient accumulation: <c>dst += src</c> (same shape).</summary>
internal static class Accumulate
{
    /// <summary>
    /// Adds two engine temporaries and releases what is no longer needed: in place into
    /// <paramref name="first"/> when it owns dense memory, else (a broadcast view) into a new one.
    /// </summary>
    public static int Sum(TensorContext c, int first, int second)
    {
        if (c.Records[first].OwnsDenseMemory && !c.Records[first].IsPending)
        {
            AddInto(c, first, second);
            c.ReleaseTemporary(second);
            return first;
        }
        int sum = OpSupport.GradMap<AddOperator>(c, second, Operand.Of(first), Operand.Of(second));
        c.ReleaseTemporary(first);
        c.ReleaseTemporary(second);
        return sum;
    }

    public static unsafe void AddInto(TensorContext c, int destination, int source)
    {
        if (c.Records[source].IsPending && Fusion.TryAccumulateOntoFill(c, destination, source)) return; // a zeroed .grad: written, not read back
        c.BeforeWrite(destination);
        ref TensorRecord d = ref c.Records[destination];
        ref TensorRecord s = ref c.Records[source];
        if (s.IsPending && d.IsContiguous && d.DType == s.DType && d.NumEl == s.NumEl)
        {
            // A deferred gradient is computed block by block straight into the .grad: one pass.
            void* into = d.DType == DType.Float32 ? c.Pointer<float>(destination) : c.Pointer<double>(destination);
            Fusion.AccumulateInto(c, s.PendingExpression, into);
            return;
        }
        if (d.IsContiguous)
        {
            Executor.Run<AddOperator>(c, Operand.Of(destination), Operand.Of(source), Operand.None, destination);
            return;
        }
        // A strided .Grad the user assigned: add through a contiguous copy and write back.
        int temp = StridedCopy.ContiguousOrSelf(c, destination);
        Executor.Run<AddOperator>(c, Operand.Of(temp), Operand.Of(source), Operand.None, temp);
        InPlace.CopyFrom(c, destination, temp);
        c.ReleaseTemporary(temp);
    }
}

using Autograd.Fast.Simd;
using Autograd.Fast.Storage;

namespace Autograd.Fast.Ops;

/// <summary>In-place gradient accumulation: <c>dst += src</c> (same shape).</summary>
internal static class Accumulate
{
    public static void AddInto(TensorContext c, int destination, int source)
    {
        if (c.Records[destination].IsContiguous)
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

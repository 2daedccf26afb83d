using System.Runtime.CompilerServices;

namespace AutogradFast;

/// <summary>Element types. Float32 is the default, as in PyTorch; Int64 and Bool carry data only.</summary>
public enum DType : byte
{
    Float32,
    Float64,
    Int64,
    Bool,
}

internal static class DTypeInfo
{
    /// <summary>Bytes per element: 4, 8, 8, 1 for Float32, Float64, Int64, Bool (a shift, no branch: it runs per op).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ElementSize(this DType dtype) => (int)((0x01_08_08_04u >> (8 * (int)dtype)) & 0xFF);

    public static bool IsFloatingPoint(this DType dtype) => dtype is DType.Float32 or DType.Float64;

    /// <summary>The name PyTorch prints after <c>dtype=</c> (<c>torch.float64</c>).</summary>
    public static string TorchName(this DType dtype) => dtype switch
    {
        DType.Float32 => "torch.float32",
        DType.Float64 => "torch.float64",
        DType.Int64 => "torch.int64",
        _ => "torch.bool",
    };

    /// <summary>The C# element type of a dtype, as written in <c>Item&lt;float&gt;()</c>.</summary>
    public static string ElementTypeName(this DType dtype) => dtype switch
    {
        DType.Float32 => "float",
        DType.Float64 => "double",
        DType.Int64 => "long",
        _ => "bool",
    };

    /// <summary>The scalar-type name PyTorch uses in error messages (<c>Float</c>, <c>Long</c>).</summary>
    public static string ScalarTypeName(this DType dtype) => dtype switch
    {
        DType.Float32 => "Float",
        DType.Float64 => "Double",
        DType.Int64 => "Long",
        _ => "Bool",
    };

    /// <summary>PyTorch's type promotion for two tensor operands.</summary>
    public static DType Promote(DType a, DType b)
    {
        if (a == b) return a;
        if (a == DType.Float64 || b == DType.Float64) return DType.Float64;
        if (a == DType.Float32 || b == DType.Float32) return DType.Float32;
        return DType.Int64; // Int64 with Bool
    }
}

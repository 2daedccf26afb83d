using System.Numerics;
using System.Runtime.Intrinsics;

namespace AutogradFast.Simd;

/// <summary>
/// An elementwise operation of up to three operands, at every width and for every numeric T
/// (the dtype switch picks T once per call, the JIT specialises the loop). Unary and binary operators
/// ignore the operands they do not need; the driver passes a broadcast zero there, which the JIT drops.
/// </summary>
internal interface IElementwiseOperator
{
    static abstract T Invoke<T>(T x, T y, T z) where T : unmanaged, INumber<T>;
    static abstract Vector128<T> Invoke<T>(Vector128<T> x, Vector128<T> y, Vector128<T> z) where T : unmanaged, INumber<T>;
    static abstract Vector256<T> Invoke<T>(Vector256<T> x, Vector256<T> y, Vector256<T> z) where T : unmanaged, INumber<T>;
    static abstract Vector512<T> Invoke<T>(Vector512<T> x, Vector512<T> y, Vector512<T> z) where T : unmanaged, INumber<T>;
}

// ---- forward arithmetic -------------------------------------------------------------------------

internal readonly struct AddOperator : IElementwiseOperator
{
    public static T Invoke<T>(T x, T y, T z) where T : unmanaged, INumber<T> => x + y;
    public static Vector128<T> Invoke<T>(Vector128<T> x, Vector128<T> y, Vector128<T> z) where T : unmanaged, INumber<T> => x + y;
    public static Vector256<T> Invoke<T>(Vector256<T> x, Vector256<T> y, Vector256<T> z) where T : unmanaged, INumber<T> => x + y;
    public static Vector512<T> Invoke<T>(Vector512<T> x, Vector512<T> y, Vector512<T> z) where T : unmanaged, INumber<T> => x + y;
}

internal readonly struct SubtractOperator : IElementwiseOperator
{
    public static T Invoke<T>(T x, T y, T z) where T : unmanaged, INumber<T> => x - y;
    public static Vector128<T> Invoke<T>(Vector128<T> x, Vector128<T> y, Vector128<T> z) where T : unmanaged, INumber<T> => x - y;
    public static Vector256<T> Invoke<T>(Vector256<T> x, Vector256<T> y, Vector256<T> z) where T : unmanaged, INumber<T> => x - y;
    public static Vector512<T> Invoke<T>(Vector512<T> x, Vector512<T> y, Vector512<T> z) where T : unmanaged, INumber<T> => x - y;
}

internal readonly struct MultiplyOperator : IElementwiseOperator
{
    public static T Invoke<T>(T x, T y, T z) where T : unmanaged, INumber<T> => x * y;
    public static Vector128<T> Invoke<T>(Vector128<T> x, Vector128<T> y, Vector128<T> z) where T : unmanaged, INumber<T> => x * y;
    public static Vector256<T> Invoke<T>(Vector256<T> x, Vector256<T> y, Vector256<T> z) where T : unmanaged, INumber<T> => x * y;
    public static Vector512<T> Invoke<T>(Vector512<T> x, Vector512<T> y, Vector512<T> z) where T : unmanaged, INumber<T> => x * y;
}

internal readonly struct DivideOperator : IElementwiseOperator
{
    public static T Invoke<T>(T x, T y, T z) where T : unmanaged, INumber<T> => x / y;
    public static Vector128<T> Invoke<T>(Vector128<T> x, Vector128<T> y, Vector128<T> z) where T : unmanaged, INumber<T> => x / y;
    public static Vector256<T> Invoke<T>(Vector256<T> x, Vector256<T> y, Vector256<T> z) where T : unmanaged, INumber<T> => x / y;
    public static Vector512<T> Invoke<T>(Vector512<T> x, Vector512<T> y, Vector512<T> z) where T : unmanaged, INumber<T> => x / y;
}

internal readonly struct NegateOperator : IElementwiseOperator
{
    public static T Invoke<T>(T x, T y, T z) where T : unmanaged, INumber<T> => -x;
    public static Vector128<T> Invoke<T>(Vector128<T> x, Vector128<T> y, Vector128<T> z) where T : unmanaged, INumber<T> => -x;
    public static Vector256<T> Invoke<T>(Vector256<T> x, Vector256<T> y, Vector256<T> z) where T : unmanaged, INumber<T> => -x;
    public static Vector512<T> Invoke<T>(Vector512<T> x, Vector512<T> y, Vector512<T> z) where T : unmanaged, INumber<T> => -x;
}

/// <summary><c>x * y + z</c>, unfused so every width rounds like the scalar tail (axpy, accumulation).</summary>
internal readonly struct MultiplyAddOperator : IElementwiseOperator
{
    public static T Invoke<T>(T x, T y, T z) where T : unmanaged, INumber<T> => x * y + z;
    public static Vector128<T> Invoke<T>(Vector128<T> x, Vector128<T> y, Vector128<T> z) where T : unmanaged, INumber<T> => x * y + z;
    public static Vector256<T> Invoke<T>(Vector256<T> x, Vector256<T> y, Vector256<T> z) where T : unmanaged, INumber<T> => x * y + z;
    public static Vector512<T> Invoke<T>(Vector512<T> x, Vector512<T> y, Vector512<T> z) where T : unmanaged, INumber<T> => x * y + z;
}

/// <summary>relu: <c>x &lt; 0 ? 0 : x</c> (NaN passes through, as in PyTorch).</summary>
internal readonly struct ReluOperator : IElementwiseOperator
{
    public static T Invoke<T>(T x, T y, T z) where T : unmanaged, INumber<T> => x < T.Zero ? T.Zero : x;
    public static Vector128<T> Invoke<T>(Vector128<T> x, Vector128<T> y, Vector128<T> z) where T : unmanaged, INumber<T> => Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128<T>.Zero), Vector128<T>.Zero, x);
    public static Vector256<T> Invoke<T>(Vector256<T> x, Vector256<T> y, Vector256<T> z) where T : unmanaged, INumber<T> => Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<T>.Zero), Vector256<T>.Zero, x);
    public static Vector512<T> Invoke<T>(Vector512<T> x, Vector512<T> y, Vector512<T> z) where T : unmanaged, INumber<T> => Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<T>.Zero), Vector512<T>.Zero, x);
}

// ---- fused backward operators (x is the incoming gradient) --------------------------------------

/// <summary>tanh backward: <c>g * (1 - y^2)</c> with y = tanh(x).</summary>
internal readonly struct TanhGradOperator : IElementwiseOperator
{
    public static T Invoke<T>(T g, T y, T z) where T : unmanaged, INumber<T> => g * (T.One - y * y);
    public static Vector128<T> Invoke<T>(Vector128<T> g, Vector128<T> y, Vector128<T> z) where T : unmanaged, INumber<T> => g * (Vector128<T>.One - y * y);
    public static Vector256<T> Invoke<T>(Vector256<T> g, Vector256<T> y, Vector256<T> z) where T : unmanaged, INumber<T> => g * (Vector256<T>.One - y * y);
    public static Vector512<T> Invoke<T>(Vector512<T> g, Vector512<T> y, Vector512<T> z) where T : unmanaged, INumber<T> => g * (Vector512<T>.One - y * y);
}

/// <summary>sigmoid backward: <c>g * (1 - y) * y</c> with y = sigmoid(x).</summary>
internal readonly struct SigmoidGradOperator : IElementwiseOperator
{
    public static T Invoke<T>(T g, T y, T z) where T : unmanaged, INumber<T> => g * (T.One - y) * y;
    public static Vector128<T> Invoke<T>(Vector128<T> g, Vector128<T> y, Vector128<T> z) where T : unmanaged, INumber<T> => g * (Vector128<T>.One - y) * y;
    public static Vector256<T> Invoke<T>(Vector256<T> g, Vector256<T> y, Vector256<T> z) where T : unmanaged, INumber<T> => g * (Vector256<T>.One - y) * y;
    public static Vector512<T> Invoke<T>(Vector512<T> g, Vector512<T> y, Vector512<T> z) where T : unmanaged, INumber<T> => g * (Vector512<T>.One - y) * y;
}

/// <summary>relu backward: <c>y &gt; 0 ? g : 0</c> with y = relu(x).</summary>
internal readonly struct ReluGradOperator : IElementwiseOperator
{
    public static T Invoke<T>(T g, T y, T z) where T : unmanaged, INumber<T> => y > T.Zero ? g : T.Zero;
    public static Vector128<T> Invoke<T>(Vector128<T> g, Vector128<T> y, Vector128<T> z) where T : unmanaged, INumber<T> => Vector128.ConditionalSelect(Vector128.GreaterThan(y, Vector128<T>.Zero), g, Vector128<T>.Zero);
    public static Vector256<T> Invoke<T>(Vector256<T> g, Vector256<T> y, Vector256<T> z) where T : unmanaged, INumber<T> => Vector256.ConditionalSelect(Vector256.GreaterThan(y, Vector256<T>.Zero), g, Vector256<T>.Zero);
    public static Vector512<T> Invoke<T>(Vector512<T> g, Vector512<T> y, Vector512<T> z) where T : unmanaged, INumber<T> => Vector512.ConditionalSelect(Vector512.GreaterThan(y, Vector512<T>.Zero), g, Vector512<T>.Zero);
}

/// <summary><c>x != 0 ? y : z</c>: where(condition, a, b), the condition given as 0/1 in the operands' type.</summary>
internal readonly struct SelectOperator : IElementwiseOperator
{
    public static T Invoke<T>(T x, T y, T z) where T : unmanaged, INumber<T> => x != T.Zero ? y : z;
    public static Vector128<T> Invoke<T>(Vector128<T> x, Vector128<T> y, Vector128<T> z) where T : unmanaged, INumber<T> => Vector128.ConditionalSelect(~Vector128.Equals(x, Vector128<T>.Zero), y, z);
    public static Vector256<T> Invoke<T>(Vector256<T> x, Vector256<T> y, Vector256<T> z) where T : unmanaged, INumber<T> => Vector256.ConditionalSelect(~Vector256.Equals(x, Vector256<T>.Zero), y, z);
    public static Vector512<T> Invoke<T>(Vector512<T> x, Vector512<T> y, Vector512<T> z) where T : unmanaged, INumber<T> => Vector512.ConditionalSelect(~Vector512.Equals(x, Vector512<T>.Zero), y, z);
}

/// <summary><c>x</c>: copies, fills from a broadcast value, or casts through the executor.</summary>
internal readonly struct CopyOperator : IElementwiseOperator
{
    public static T Invoke<T>(T x, T y, T z) where T : unmanaged, INumber<T> => x;
    public static Vector128<T> Invoke<T>(Vector128<T> x, Vector128<T> y, Vector128<T> z) where T : unmanaged, INumber<T> => x;
    public static Vector256<T> Invoke<T>(Vector256<T> x, Vector256<T> y, Vector256<T> z) where T : unmanaged, INumber<T> => x;
    public static Vector512<T> Invoke<T>(Vector512<T> x, Vector512<T> y, Vector512<T> z) where T : unmanaged, INumber<T> => x;
}

/// <summary><c>x * (z * y)</c>: a gradient times (constant times saved value), PyTorch's order for pow and mul backward.</summary>
internal readonly struct GradTimesScaledOperator : IElementwiseOperator
{
    public static T Invoke<T>(T g, T y, T z) where T : unmanaged, INumber<T> => g * (z * y);
    public static Vector128<T> Invoke<T>(Vector128<T> g, Vector128<T> y, Vector128<T> z) where T : unmanaged, INumber<T> => g * (z * y);
    public static Vector256<T> Invoke<T>(Vector256<T> g, Vector256<T> y, Vector256<T> z) where T : unmanaged, INumber<T> => g * (z * y);
    public static Vector512<T> Invoke<T>(Vector512<T> g, Vector512<T> y, Vector512<T> z) where T : unmanaged, INumber<T> => g * (z * y);
}

/// <summary><c>x * x</c> (pow 2, exactly as PyTorch special-cases it).</summary>
internal readonly struct SquareOperator : IElementwiseOperator
{
    public static T Invoke<T>(T x, T y, T z) where T : unmanaged, INumber<T> => x * x;
    public static Vector128<T> Invoke<T>(Vector128<T> x, Vector128<T> y, Vector128<T> z) where T : unmanaged, INumber<T> => x * x;
    public static Vector256<T> Invoke<T>(Vector256<T> x, Vector256<T> y, Vector256<T> z) where T : unmanaged, INumber<T> => x * x;
    public static Vector512<T> Invoke<T>(Vector512<T> x, Vector512<T> y, Vector512<T> z) where T : unmanaged, INumber<T> => x * x;
}

/// <summary><c>x * x * x</c> (pow 3).</summary>
internal readonly struct CubeOperator : IElementwiseOperator
{
    public static T Invoke<T>(T x, T y, T z) where T : unmanaged, INumber<T> => x * x * x;
    public static Vector128<T> Invoke<T>(Vector128<T> x, Vector128<T> y, Vector128<T> z) where T : unmanaged, INumber<T> => x * x * x;
    public static Vector256<T> Invoke<T>(Vector256<T> x, Vector256<T> y, Vector256<T> z) where T : unmanaged, INumber<T> => x * x * x;
    public static Vector512<T> Invoke<T>(Vector512<T> x, Vector512<T> y, Vector512<T> z) where T : unmanaged, INumber<T> => x * x * x;
}

using System.Numerics;
using Autograd.Fast.Simd;

namespace Autograd.Fast.LinearAlgebra;

/// <summary>
/// Matrix products on contiguous row-major operands, in the three layouts autograd needs, so the
/// backward products never materialise a transpose:
/// NN <c>C = A·B</c> and TN <c>C = Aᵀ·B</c> stream rows of B into rows of C (vectorised axpy);
/// NT <c>C = A·Bᵀ</c> takes vectorised dot products of rows.
/// </summary>
internal static unsafe class Gemm
{
    /// <summary>C[m,n] = A[m,k] · B[k,n]</summary>
    public static void NN<T>(T* a, T* b, T* c, int m, int k, int n) where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < m; i++)
        {
            T* ci = c + (nint)i * n;
            new Span<T>(ci, n).Clear();
            T* ai = a + (nint)i * k;
            for (int p = 0; p < k; p++)
                Elementwise.TernaryMiddleScalar<T, MultiplyAddOperator>(b + (nint)p * n, ai[p], ci, ci, n);
        }
    }

    /// <summary>C[m,n] = A[m,k] · B[n,k]ᵀ</summary>
    public static void NT<T>(T* a, T* b, T* c, int m, int k, int n) where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                c[(nint)i * n + j] = Reductions.Dot(a + (nint)i * k, b + (nint)j * k, k);
    }

    /// <summary>C[m,n] = A[k,m]ᵀ · B[k,n]</summary>
    public static void TN<T>(T* a, T* b, T* c, int m, int k, int n) where T : unmanaged, INumber<T>
    {
        new Span<T>(c, checked(m * n)).Clear();
        for (int p = 0; p < k; p++)
        {
            T* ap = a + (nint)p * m;
            T* bp = b + (nint)p * n;
            for (int i = 0; i < m; i++)
                Elementwise.TernaryMiddleScalar<T, MultiplyAddOperator>(bp, ap[i], c + (nint)i * n, c + (nint)i * n, n);
        }
    }
}

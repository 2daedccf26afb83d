using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using AutogradFast.Simd;
using AutogradFast.Threading;

namespace AutogradFast.LinearAlgebra;

/// <summary>
/// Matrix products on contiguous row-major operands, in the three layouts autograd needs, so the
/// backward products never materialise a transpose: NN <c>C = A·B</c>, NT <c>C = A·Bᵀ</c> and
/// TN <c>C = Aᵀ·B</c>, C overwritten.
/// <para>
/// float and double run a GotoBLAS/BLIS-style packed product. K is cut into depth blocks of at most
/// <see cref="KcMax"/>; for each, A is packed as micro-panels of <see cref="GemmMicroKernel.Rows"/> rows
/// and B as micro-panels of <see cref="GemmMicroKernel.Columns{T}"/> columns (the values of one depth
/// step side by side, zero-padded at the edges) into 64-byte-aligned per-thread native buffers.
/// Packing absorbs the layouts: a transposed operand is only read in another order (square AVX
/// transposes where it is read across its rows). C is cut into chunks of at most <see cref="McMax"/>
/// rows and <see cref="NcMax"/> columns; a chunk runs through the depth blocks, and in each keeps one
/// A micro-panel in L1 while the chunk's B micro-panels (in L2) stream past it through the
/// register-blocked micro-kernel (<see cref="GemmMicroKernel"/>). Edge tiles use row- or
/// column-reduced kernel variants, or a scratch tile whose valid part is written back.
/// </para>
/// <para>
/// Panels are packed on demand by the first chunk that needs them (a chunk finding one being packed
/// works on another meanwhile), so a product above <see cref="ParallelFlops"/> is a single
/// <see cref="WorkerPool"/> job with no separate packing phase. B panels that few A panels reuse are
/// read in place when B's rows are contiguous and B is small (<see cref="ReadsBInPlace{T}"/>). A
/// product with a short side may be computed as Cᵀ = op(B)ᵀ·op(A)ᵀ when that wastes fewer tile lanes
/// and packs less (<see cref="Cost{T}"/>).
/// </para>
/// <para>
/// Determinism: chunk and depth-block boundaries depend only on (m, k, n), and K is never split
/// across threads: each element of C is one fused multiply-add chain per depth block, added to C
/// block after block in order, whichever thread, chunk or kernel variant computes it. Results are
/// bitwise identical at any thread count.
/// </para>
/// <para>
/// Products with a dimension of 1 (mv, outer products, 1-row matmul) and int64 take vectorised
/// dot / axpy paths, which need no packing.
/// </para>
/// </summary>
internal static unsafe class Gemm
{
    /// <summary>
    /// Depth of one packed block: an A micro-panel (Rows × KcMax, 14 KB of float) stays in the 48 KB L1
    /// beside the B micro-panel streaming past it, and a C tile is read and written once per block.
    /// </summary>
    internal const int KcMax = 256;

    /// <summary>Rows of C per chunk (at most 12 A micro-panels of 14 rows).</summary>
    internal const int McMax = 168;

    /// <summary>Columns of C per chunk: the chunk's B panels (KcMax × NcMax, 512 KB of float) stay in the 2 MB L2.</summary>
    internal const int NcMax = 512;

    /// <summary>Rows and columns of C handled as one block (bounds the packing buffers and panel counts).</summary>
    internal const int BlockMax = 4096;

    /// <summary>
    /// Below this many flops a product runs on the calling thread with no pool hand-off: measured on
    /// 2 cores, 128³ (4.2 MFLOP, ~40 µs) gains nothing from a second thread, 256×64×256 (8.4 MFLOP) ~1.2×.
    /// </summary>
    internal const long ParallelFlops = 6_000_000;

    /// <summary>A parallel product is cut into at least this many chunks (when it has that many tiles), so threads finish close together.</summary>
    internal const int MinChunks = 16;

    /// <summary>Packed elements one job may hold (several depth blocks side by side): 16 MB of float.</summary>
    private const long PackedElementsMax = 4L << 20;

    /// <summary>B is read in place (not packed) by at most this many A panels (see <see cref="ReadsBInPlace{T}"/>)...</summary>
    private const int InPlaceBReuseMax = 32;

    /// <summary>... and only while it is at most this big, so it stays in L2 across those reuses.</summary>
    private const long InPlaceBBytesMax = 1 << 20;

    /// <summary>C[m,n] = A[m,k] · B[k,n]</summary>
    public static void NN<T>(T* a, T* b, T* c, int m, int k, int n) where T : unmanaged, INumber<T>
    {
        if (!IsPackable<T>(m, k, n)) SimpleNN(a, b, c, m, k, n);
        else Packed(a, transA: false, b, transB: false, c, m, k, n);
    }

    /// <summary>C[m,n] = A[m,k] · B[n,k]ᵀ</summary>
    public static void NT<T>(T* a, T* b, T* c, int m, int k, int n) where T : unmanaged, INumber<T>
    {
        if (!IsPackable<T>(m, k, n)) SimpleNT(a, b, c, m, k, n);
        else Packed(a, transA: false, b, transB: true, c, m, k, n);
    }

    /// <summary>C[m,n] = A[k,m]ᵀ · B[k,n]</summary>
    public static void TN<T>(T* a, T* b, T* c, int m, int k, int n) where T : unmanaged, INumber<T>
    {
        if (!IsPackable<T>(m, k, n)) SimpleTN(a, b, c, m, k, n);
        else Packed(a, transA: true, b, transB: false, c, m, k, n);
    }

    /// <summary>float and double products without a unit dimension go through the packed kernel.</summary>
    private static bool IsPackable<T>(int m, int k, int n) where T : unmanaged
        => (typeof(T) == typeof(float) || typeof(T) == typeof(double)) && m > 1 && n > 1 && k > 1;

    // ---- the packed product ---------------------------------------------------------------------

    /// <summary>
    /// C[m,n] = op(A)·op(B) through packing and the micro-kernel, for any shape (tests call it directly
    /// on the shapes the public entry points send to the simple paths). op(A)[i,p] is
    /// <c>a[p*m + i]</c> when <paramref name="transA"/>, else <c>a[i*k + p]</c>; op(B)[p,j] is
    /// <c>b[j*k + p]</c> when <paramref name="transB"/>, else <c>b[p*n + j]</c>.
    /// </summary>
    internal static void Packed<T>(T* a, bool transA, T* b, bool transB, T* c, int m, int k, int n) where T : unmanaged
    {
        if (m <= 0 || n <= 0) return;
        if (k <= 0)
        {
            new Span<T>(c, checked(m * n)).Clear();
            return;
        }
        nint lda = transA ? m : k, ldb = transB ? k : n;
        Problem<T> s = default;
        s.C = c;
        s.K = k;
        // A product with few columns (h·W for a 10-class head) wastes most of each tile's width;
        // computing Cᵀ = op(B)ᵀ·op(A)ᵀ may put the long side across the vectors instead.
        if (Cost<T>(n, m, k, !transA, transposedC: true) < Cost<T>(m, n, k, transB, transposedC: false))
        {
            s.A = b; s.TransA = !transB; s.Lda = ldb;
            s.B = a; s.TransB = !transA; s.Ldb = lda;
            s.M = n; s.N = m; s.Rsc = 1; s.Csc = n;
        }
        else
        {
            s.A = a; s.TransA = transA; s.Lda = lda;
            s.B = b; s.TransB = transB; s.Ldb = ldb;
            s.M = m; s.N = n; s.Rsc = n; s.Csc = 1;
        }
        Run(ref s);
    }

    /// <summary>Packing one element costs about as much as this many lane-steps of the micro-kernel.</summary>
    private const long PackWeight = 16;

    /// <summary>
    /// A rough cost of an m × n × k product in micro-kernel lane-steps: the tiles' lanes (edge tiles
    /// counted at the variant that computes them) times the depth, plus packing, plus writing C through
    /// scratch tiles when it is produced transposed.
    /// </summary>
    private static long Cost<T>(int m, int n, int k, bool transB, bool transposedC) where T : unmanaged
    {
        int mr = GemmMicroKernel.Rows, nr = GemmMicroKernel.Columns<T>(), narrow = GemmMicroKernel.NarrowColumns<T>();
        long rows = m / mr * mr + (m % mr > 0 ? GemmMicroKernel.RowsFor(m % mr) : 0);
        long cols = n / nr * nr + (n % nr > 0 ? (n % nr <= narrow ? narrow : nr) : 0);
        long cost = rows * cols * k + (long)m * k * PackWeight;
        if (!ReadsBInPlace<T>(transB, DivUp(Math.Min(m, BlockMax), mr), k, n)) cost += (long)k * n * PackWeight;
        if (transposedC) cost += (long)m * n * PackWeight;
        return cost;
    }

    /// <summary>
    /// Whether the micro-kernel reads B's full panels where they lie instead of packing them: when B's
    /// rows are contiguous and few A panels reuse each B panel (one use never pays for a copy), as long
    /// as B is small enough to stay in L2.
    /// </summary>
    private static bool ReadsBInPlace<T>(bool transB, int aPanels, int k, int n) where T : unmanaged
        => !transB && (aPanels == 1 || (aPanels <= InPlaceBReuseMax && (long)k * n * sizeof(T) <= InPlaceBBytesMax));

    /// <summary>Everything a compute chunk reads; lives on the calling thread's stack.</summary>
    private struct Problem<T> where T : unmanaged
    {
        public T* A, B, C;
        public nint Lda, Ldb, Rsc, Csc;
        public bool TransA, TransB;
        public int M, N, K, KBlocks;

        // The current block: rows [I0, I0+Mb), columns [J0, J0+Nb), depth blocks [KBlock0, KBlockEnd).
        public int I0, J0, Mb, Nb, KBlock0, KBlockEnd;
        public int APanels, BPanels, RowChunks, ColChunks;
        public bool DirectB;

        // Packed panels of each depth block in flight, and their states (Unpacked, Packing, Ready).
        public T* PackedA, PackedB;
        public nint AStride, BStride;
        public int* AStates, BStates;
    }

    private const int Unpacked = 0, Packing = 1, Ready = 2;

    private static void Run<T>(ref Problem<T> s) where T : unmanaged
    {
        int mr = GemmMicroKernel.Rows, nr = GemmMicroKernel.Columns<T>();
        long flops = 2L * s.M * s.N * s.K;
        bool parallel = flops >= ParallelFlops && WorkerPool.Threads > 1;

        // Depth blocks of at most KcMax (evenly split), outer blocks of at most BlockMax rows and columns.
        s.KBlocks = DivUp(s.K, KcMax);
        int mBlocks = DivUp(s.M, BlockMax), nBlocks = DivUp(s.N, BlockMax);
        int kcMax = DivUp(s.K, s.KBlocks), aPanelsMax = DivUp(DivUp(s.M, mBlocks), mr), bPanelsMax = DivUp(DivUp(s.N, nBlocks), nr);
        s.AStride = PanelStride<T>(mr, kcMax);
        s.BStride = PanelStride<T>(nr, kcMax);
        // As many depth blocks as fit in PackedElementsMax are packed side by side, so one parallel job
        // covers them all (usually the whole product) and each chunk runs through the depth on its own.
        long perDepthBlock = aPanelsMax * s.AStride + bPanelsMax * s.BStride;
        int depthBlocksPerJob = (int)Math.Clamp(PackedElementsMax / perDepthBlock, 1, s.KBlocks);
        s.PackedA = (T*)Scratch.Get(0, depthBlocksPerJob * aPanelsMax * s.AStride * sizeof(T));
        s.PackedB = (T*)Scratch.Get(1, depthBlocksPerJob * bPanelsMax * s.BStride * sizeof(T));
        int stateCount = depthBlocksPerJob * (aPanelsMax + bPanelsMax);
        int* states = (int*)Scratch.Get(2, stateCount * sizeof(int));

        for (int ib = 0; ib < mBlocks; ib++)
        {
            s.I0 = (int)((long)s.M * ib / mBlocks);
            s.Mb = (int)((long)s.M * (ib + 1) / mBlocks) - s.I0;
            for (int jb = 0; jb < nBlocks; jb++)
            {
                s.J0 = (int)((long)s.N * jb / nBlocks);
                s.Nb = (int)((long)s.N * (jb + 1) / nBlocks) - s.J0;
                s.APanels = DivUp(s.Mb, mr);
                s.BPanels = DivUp(s.Nb, nr);
                s.DirectB = ReadsBInPlace<T>(s.TransB, s.APanels, s.K, s.N);
                ChooseChunks(ref s, mr, nr, flops);
                int chunks = s.RowChunks * s.ColChunks;
                for (s.KBlock0 = 0; s.KBlock0 < s.KBlocks; s.KBlock0 = s.KBlockEnd)
                {
                    s.KBlockEnd = Math.Min(s.KBlocks, s.KBlock0 + depthBlocksPerJob);
                    int blocks = s.KBlockEnd - s.KBlock0;
                    s.AStates = states;
                    s.BStates = states + blocks * s.APanels;
                    new Span<int>(states, blocks * (s.APanels + s.BPanels)).Clear();
                    if (s.DirectB) // full B panels are read in place: nothing to pack
                        for (int slot = 0; slot < blocks; slot++) new Span<int>(s.BStates + slot * s.BPanels, s.Nb / nr).Fill(Ready);
                    fixed (Problem<T>* state = &s)
                    {
                        if (parallel) WorkerPool.For(chunks, &ComputeChunk<T>, state);
                        else for (int chunk = 0; chunk < chunks; chunk++) ComputeChunk<T>(state, chunk);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Cuts the block's tiles into RowChunks × ColChunks compute chunks: at most McMax rows and NcMax
    /// columns each, and for a product worth threading at least MinChunks (splitting the longer side).
    /// Depends only on the shape.
    /// </summary>
    private static void ChooseChunks<T>(ref Problem<T> s, int mr, int nr, long flops) where T : unmanaged
    {
        int rowChunks = DivUp(s.APanels, Math.Clamp(McMax / mr, 1, 64));
        int colChunks = DivUp(s.BPanels, Math.Clamp(NcMax / nr, 1, 64));
        if (flops >= ParallelFlops)
        {
            while (rowChunks * colChunks < MinChunks && (rowChunks < s.APanels || colChunks < s.BPanels))
            {
                double rows = (double)s.APanels * mr / rowChunks, cols = (double)s.BPanels * nr / colChunks;
                if ((cols >= rows && colChunks < s.BPanels) || rowChunks == s.APanels) colChunks++;
                else rowChunks++;
            }
        }
        s.RowChunks = rowChunks;
        s.ColChunks = colChunks;
    }

    /// <summary>
    /// Computes one chunk of C through every depth block of the job: for each A micro-panel of the chunk
    /// (kept in L1), every B micro-panel of the chunk (streamed from L2). The first chunk to need a
    /// panel packs it; a chunk that finds a panel being packed by another thread goes on with its other
    /// panels, and waits only when none is left.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ComputeChunk<T>(void* state, int chunk) where T : unmanaged
    {
        ref Problem<T> s = ref *(Problem<T>*)state;
        int mr = GemmMicroKernel.Rows, nr = GemmMicroKernel.Columns<T>(), narrowColumns = GemmMicroKernel.NarrowColumns<T>();
        int rowChunk = chunk / s.ColChunks, colChunk = chunk % s.ColChunks;
        int firstA = (int)((long)s.APanels * rowChunk / s.RowChunks), endA = (int)((long)s.APanels * (rowChunk + 1) / s.RowChunks);
        int firstB = (int)((long)s.BPanels * colChunk / s.ColChunks), endB = (int)((long)s.BPanels * (colChunk + 1) / s.ColChunks);
        nint rsc = s.Rsc, csc = s.Csc;
        T* edge = stackalloc T[mr * nr];
        for (int block = s.KBlock0; block < s.KBlockEnd; block++)
        {
            int p0 = (int)((long)s.K * block / s.KBlocks);
            nint kc = (int)((long)s.K * (block + 1) / s.KBlocks) - p0;
            bool accumulate = block > 0;
            int slot = block - s.KBlock0;
            T* packedA = s.PackedA + slot * s.APanels * s.AStride, packedB = s.PackedB + slot * s.BPanels * s.BStride;
            int* aStates = s.AStates + slot * s.APanels, bStates = s.BStates + slot * s.BPanels;
            // Panels in any order: a panel another thread is packing is visited after the others.
            for (ulong pendingA = PanelMask(endA - firstA); pendingA != 0;)
            {
                int pi = NextPanel(aStates, firstA, ref pendingA, out bool packA);
                T* aPanel = packedA + pi * s.AStride;
                if (packA)
                {
                    // A gathered operand reads each depth step's run for a few panels at once.
                    int group = 1;
                    if (s.TransA) while (group < GatherGroup && pi + group < endA && TryClaim(aStates + pi + group)) group++;
                    PackA(ref s, pi, group, p0, (int)kc, aPanel);
                    for (int g = 0; g < group; g++) Volatile.Write(ref aStates[pi + g], Ready);
                }
                int i = s.I0 + pi * mr;
                int rows = Math.Min(mr, s.I0 + s.Mb - i);
                for (ulong pendingB = PanelMask(endB - firstB); pendingB != 0;)
                {
                    int pj = NextPanel(bStates, firstB, ref pendingB, out bool packB);
                    int j = s.J0 + pj * nr;
                    int cols = Math.Min(nr, s.J0 + s.Nb - j);
                    T* bPanel = packedB + pj * s.BStride;
                    nint ldb = nr;
                    if (packB)
                    {
                        int group = 1;
                        if (!s.TransB) while (group < GatherGroup && pj + group < endB && TryClaim(bStates + pj + group)) group++;
                        PackB(ref s, pj, group, p0, (int)kc, bPanel);
                        for (int g = 0; g < group; g++) Volatile.Write(ref bStates[pj + g], Ready);
                    }
                    if (s.DirectB && cols == nr)
                    {
                        bPanel = s.B + p0 * s.Ldb + j;
                        ldb = s.Ldb;
                    }
                    T* c = s.C + i * rsc + j * csc;
                    if (rows == mr && cols == nr && csc == 1)
                    {
                        GemmMicroKernel.Tile(aPanel, bPanel, ldb, kc, c, rsc, accumulate);
                        continue;
                    }
                    // An edge tile (or a transposed result): a variant computes just the panel's rows, or one vector
                    // of columns; it writes C directly when it covers exactly the valid part, else a scratch tile.
                    bool narrow = cols <= narrowColumns;
                    bool direct = csc == 1 && (narrow ? cols == narrowColumns && rows == mr : cols == nr && GemmMicroKernel.RowsFor(rows) == rows);
                    T* target = direct ? c : edge;
                    nint ldt = direct ? rsc : nr;
                    bool add = direct && accumulate;
                    if (narrow) GemmMicroKernel.TileNarrow(aPanel, bPanel, ldb, kc, target, ldt, add);
                    else GemmMicroKernel.TileRows(rows, aPanel, bPanel, ldb, kc, target, ldt, add);
                    if (!direct) WriteEdge(edge, nr, c, rsc, csc, rows, cols, accumulate);
                }
            }
        }
    }

    /// <summary>Bits for a chunk's panels (at most 64: see <see cref="ChooseChunks{T}"/>).</summary>
    private static ulong PanelMask(int count) => count >= 64 ? ulong.MaxValue : (1UL << count) - 1;

    /// <summary>
    /// Takes the next panel of a chunk from <paramref name="pending"/> (bit b: panel first + b): the first
    /// that is Ready, or Unpacked and claimed here (<paramref name="mustPack"/>: pack it, then mark it
    /// Ready). Only when every pending panel is being packed by another thread does it wait, for the first.
    /// </summary>
    private static int NextPanel(int* states, int first, ref ulong pending, out bool mustPack)
    {
        for (ulong rest = pending; rest != 0; rest &= rest - 1)
        {
            int bit = BitOperations.TrailingZeroCount(rest);
            int* state = states + first + bit;
            int seen = Volatile.Read(ref *state);
            if (seen == Ready || (seen == Unpacked && Interlocked.CompareExchange(ref *state, Packing, Unpacked) == Unpacked))
            {
                pending &= ~(1UL << bit);
                mustPack = seen != Ready;
                return first + bit;
            }
        }
        int lowest = BitOperations.TrailingZeroCount(pending);
        pending &= pending - 1;
        var spinner = new SpinWait();
        while (Volatile.Read(ref states[first + lowest]) != Ready) spinner.SpinOnce(sleep1Threshold: -1);
        mustPack = false;
        return first + lowest;
    }

    /// <summary>Panels a gathering pack claims together, so each depth step reads one longer contiguous run.</summary>
    private const int GatherGroup = 4;

    /// <summary>Claims an Unpacked panel for packing (false if another thread has it, or it is done).</summary>
    private static bool TryClaim(int* state)
        => Volatile.Read(ref *state) == Unpacked && Interlocked.CompareExchange(ref *state, Packing, Unpacked) == Unpacked;

    /// <summary>
    /// Packs A micro-panels [panel, panel + count) of the block over depth [p0, p0+kc), from
    /// <paramref name="dst"/> on (AStride apart): <c>dst[p*Rows + r] = op(A)[i0 + r, p0 + p]</c>, zero below the last row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA<T>(ref Problem<T> s, int panel, int count, int p0, int kc, T* dst) where T : unmanaged
    {
        int mr = GemmMicroKernel.Rows;
        int i = s.I0 + panel * mr;
        int rows = s.I0 + s.Mb - i; // valid rows from the first panel on
        if (s.TransA)
        {
            Gather(s.A + (nint)p0 * s.Lda + i, s.Lda, rows, count, kc, dst, s.AStride, mr); // op(A)[i, p] = a[p*lda + i]
            return;
        }
        for (int g = 0; g < count; g++, rows -= mr, dst += s.AStride)
            Transpose(s.A + (nint)(i + g * mr) * s.Lda + p0, s.Lda, Math.Min(mr, rows), kc, dst, mr); // op(A)[i, p] = a[i*lda + p]
    }

    /// <summary>
    /// Packs B micro-panels [panel, panel + count) of the block over depth [p0, p0+kc), from
    /// <paramref name="dst"/> on (BStride apart): <c>dst[p*Columns + q] = op(B)[p0 + p, j0 + q]</c>, zero right of the last column.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB<T>(ref Problem<T> s, int panel, int count, int p0, int kc, T* dst) where T : unmanaged
    {
        int nr = GemmMicroKernel.Columns<T>();
        int j = s.J0 + panel * nr;
        int cols = s.J0 + s.Nb - j; // valid columns from the first panel on
        if (!s.TransB)
        {
            Gather(s.B + (nint)p0 * s.Ldb + j, s.Ldb, cols, count, kc, dst, s.BStride, nr); // op(B)[p, j] = b[p*ldb + j]
            return;
        }
        for (int g = 0; g < count; g++, cols -= nr, dst += s.BStride)
            Transpose(s.B + (nint)(j + g * nr) * s.Ldb + p0, s.Ldb, Math.Min(nr, cols), kc, dst, nr); // op(B)[p, j] = b[j*ldb + p]
    }

    /// <summary>
    /// <paramref name="panels"/> panels, <paramref name="panelStride"/> apart, of
    /// <c>dst[p*width + r] = src[p*ld + panel*width + r]</c> for the <paramref name="extent"/> valid values of
    /// each run, zero beyond: each depth step is one contiguous run across the panels.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Gather<T>(T* src, nint ld, int extent, int panels, int depth, T* dst, nint panelStride, int width) where T : unmanaged
    {
        int full = Math.Min(panels, extent / width);
        T* from = src, to = dst;
        for (int p = 0; p < depth; p++, from += ld, to += width)
            for (int q = 0; q < full; q++) CopyShort(from + q * width, to + q * panelStride, width);
        if (full < panels)
        {
            int count = extent - full * width;
            from = src + full * width;
            to = dst + full * panelStride;
            for (int p = 0; p < depth; p++, from += ld, to += width) CopyPadded(from, to, count, width);
        }
    }

    /// <summary>
    /// <c>dst[p*width + r] = src[r*ld + p]</c> for r &lt; count, p &lt; depth, and zero for count ≤ r &lt; width:
    /// square vector blocks where available (the last block of a panel overlaps the one before it).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose<T>(T* src, nint ld, int count, int depth, T* dst, int width) where T : unmanaged
    {
        int side = GemmMicroKernel.TransposeSide<T>(width);
        int p = 0;
        if (side > 0 && count == width)
        {
            for (; p <= depth - side; p += side)
            {
                for (int r0 = 0; r0 < width; r0 += side)
                {
                    int r = Math.Min(r0, width - side);
                    GemmMicroKernel.TransposeBlock(side, src + r * ld + p, ld, dst + (nint)p * width + r, width);
                }
            }
        }
        for (int r = 0; r < count; r++)
        {
            T* from = src + r * ld;
            T* to = dst + r;
            for (int q = p; q < depth; q++) to[(nint)q * width] = from[q];
        }
        for (int r = count; r < width; r++)
        {
            T* to = dst + r;
            for (int q = p; q < depth; q++) to[(nint)q * width] = default;
        }
    }

    /// <summary>Copies <paramref name="count"/> elements (a tile width: a JIT-time constant) with overlapping vector moves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyShort<T>(T* src, T* dst, int count) where T : unmanaged
    {
        if (Vector512.IsHardwareAccelerated && count >= Vector512<T>.Count)
        {
            int w = Vector512<T>.Count, i = 0;
            for (; i <= count - w; i += w) Vector512.Load(src + i).Store(dst + i);
            if (i < count) Vector512.Load(src + count - w).Store(dst + count - w);
        }
        else if (Vector256.IsHardwareAccelerated && count >= Vector256<T>.Count)
        {
            int w = Vector256<T>.Count, i = 0;
            for (; i <= count - w; i += w) Vector256.Load(src + i).Store(dst + i);
            if (i < count) Vector256.Load(src + count - w).Store(dst + count - w);
        }
        else if (Vector128.IsHardwareAccelerated && count >= Vector128<T>.Count)
        {
            int w = Vector128<T>.Count, i = 0;
            for (; i <= count - w; i += w) Vector128.Load(src + i).Store(dst + i);
            if (i < count) Vector128.Load(src + count - w).Store(dst + count - w);
        }
        else
        {
            for (int i = 0; i < count; i++) dst[i] = src[i];
        }
    }

    private static void CopyPadded<T>(T* src, T* dst, int count, int width) where T : unmanaged
    {
        int i = 0;
        for (; i < count; i++) dst[i] = src[i];
        for (; i < width; i++) dst[i] = default;
    }

    /// <summary>C[r, q] (+)= tile[r, q] for the valid rows and columns of an edge tile (C's columns <paramref name="csc"/> apart).</summary>
    private static void WriteEdge<T>(T* tile, int nr, T* c, nint rsc, nint csc, int rows, int cols, bool accumulate) where T : unmanaged
    {
        for (int r = 0; r < rows; r++)
        {
            T* from = tile + r * nr;
            T* to = c + r * rsc;
            int q = 0;
            if (csc == 1 && Vector256.IsHardwareAccelerated)
            {
                for (; q <= cols - Vector256<T>.Count; q += Vector256<T>.Count)
                    (accumulate ? Vector256.Load(to + q) + Vector256.Load(from + q) : Vector256.Load(from + q)).Store(to + q);
            }
            if (typeof(T) == typeof(float))
            {
                if (accumulate) for (; q < cols; q++) ((float*)to)[q * csc] += ((float*)from)[q];
                else for (; q < cols; q++) ((float*)to)[q * csc] = ((float*)from)[q];
            }
            else
            {
                if (accumulate) for (; q < cols; q++) ((double*)to)[q * csc] += ((double*)from)[q];
                else for (; q < cols; q++) ((double*)to)[q * csc] = ((double*)from)[q];
            }
        }
    }

    /// <summary>
    /// Elements from one packed micro-panel to the next: the panel rounded up to a cache line, plus one
    /// line, so consecutive panels do not start in the same L1 set (a grouped gather writes to several at once).
    /// </summary>
    private static nint PanelStride<T>(int width, int depth) where T : unmanaged
    {
        int line = 64 / sizeof(T);
        return RoundUp(width * depth, line) + line;
    }

    private static int DivUp(int x, int y) => (x + y - 1) / y;

    private static int RoundUp(int x, int y) => DivUp(x, y) * y;

    /// <summary>
    /// The calling thread's packing buffers: 64-byte aligned native memory, grown geometrically and
    /// kept, so a steady-state product allocates nothing. Freed when the thread (and so its holder) dies.
    /// </summary>
    private sealed class Scratch
    {
        [ThreadStatic] private static Scratch? t_current;

        private readonly void*[] _buffers = new void*[3];
        private readonly nint[] _bytes = new nint[3];

        /// <summary>Buffer <paramref name="which"/> (0: packed A, 1: packed B, 2: panel states) with at least <paramref name="bytes"/> bytes.</summary>
        public static void* Get(int which, nint bytes)
        {
            Scratch scratch = t_current ??= new Scratch();
            if (scratch._bytes[which] < bytes)
            {
                nint grown = Math.Max(bytes, scratch._bytes[which] + scratch._bytes[which] / 2);
                NativeMemory.AlignedFree(scratch._buffers[which]);
                scratch._buffers[which] = null;
                scratch._bytes[which] = 0;
                scratch._buffers[which] = NativeMemory.AlignedAlloc((nuint)grown, 64);
                scratch._bytes[which] = grown;
            }
            return scratch._buffers[which];
        }

        ~Scratch()
        {
            foreach (void* buffer in _buffers) NativeMemory.AlignedFree(buffer);
        }
    }

    // ---- products with a unit dimension, and int64 ---------------------------------------------------

    private static void SimpleNN<T>(T* a, T* b, T* c, int m, int k, int n) where T : unmanaged, INumber<T>
    {
        if (k <= 1 || n == 1)
        {
            OuterOrDots(a, b, c, m, k, n);
            return;
        }
        for (int i = 0; i < m; i++)
        {
            T* ci = c + (nint)i * n;
            new Span<T>(ci, n).Clear();
            T* ai = a + (nint)i * k;
            for (int p = 0; p < k; p++)
                Elementwise.TernaryMiddleScalar<T, MultiplyAddOperator>(b + (nint)p * n, ai[p], ci, ci, n);
        }
    }

    private static void SimpleNT<T>(T* a, T* b, T* c, int m, int k, int n) where T : unmanaged, INumber<T>
    {
        if (k <= 1)
        {
            OuterOrDots(a, b, c, m, k, n);
            return;
        }
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                c[(nint)i * n + j] = Reductions.Dot(a + (nint)i * k, b + (nint)j * k, k);
    }

    private static void SimpleTN<T>(T* a, T* b, T* c, int m, int k, int n) where T : unmanaged, INumber<T>
    {
        if (k <= 1)
        {
            OuterOrDots(a, b, c, m, k, n);
            return;
        }
        new Span<T>(c, checked(m * n)).Clear();
        if (n == 1)
        {
            // c[i] = Σp a[p, i]·b[p]: one axpy over the rows of A per p.
            for (int p = 0; p < k; p++)
                Elementwise.TernaryMiddleScalar<T, MultiplyAddOperator>(a + (nint)p * m, b[p], c, c, m);
            return;
        }
        for (int p = 0; p < k; p++)
        {
            T* ap = a + (nint)p * m;
            T* bp = b + (nint)p * n;
            for (int i = 0; i < m; i++)
                Elementwise.TernaryMiddleScalar<T, MultiplyAddOperator>(bp, ap[i], c + (nint)i * n, c + (nint)i * n, n);
        }
    }

    /// <summary>
    /// k ≤ 1: the outer product <c>C[i,:] = a[i]·b</c> (or zeros for k = 0); otherwise n = 1 with A
    /// row-major: <c>c[i] = a[i,:]·b</c>.
    /// </summary>
    private static void OuterOrDots<T>(T* a, T* b, T* c, int m, int k, int n) where T : unmanaged, INumber<T>
    {
        if (k == 0)
        {
            new Span<T>(c, checked(m * n)).Clear();
            return;
        }
        if (k == 1)
        {
            for (int i = 0; i < m; i++) Elementwise.BinaryScalar<T, MultiplyOperator>(b, a[i], c + (nint)i * n, n);
            return;
        }
        for (int i = 0; i < m; i++) c[i] = Reductions.Dot(a + (nint)i * k, b, k);
    }
}

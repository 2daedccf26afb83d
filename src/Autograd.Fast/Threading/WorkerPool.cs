namespace AutogradFast.Threading;

/// <summary>
/// Runs the chunks of one parallel job on the calling thread plus persistent worker threads.
/// Callers cut their work into chunks whose boundaries depend only on the problem size, and
/// each chunk writes its own outputs (partial sums are combined by the caller in chunk order),
/// so a result is bitwise identical whatever the thread count. No allocation per job: the body is
/// a function pointer and the state a pointer to the caller's stack, which waits until every
/// chunk is done. (CommunityToolkit's ParallelHelper goes through Parallel.For, which allocates
/// about 1.7 KB per call; a training step would then allocate.)
/// </summary>
internal static unsafe class WorkerPool
{
    private static readonly object s_gate = new();
    private static Worker[] s_workers = [];
    private static int s_threads = Math.Max(1, Environment.ProcessorCount);

    // The current job; valid while s_busy == 1.
    private static delegate*<void*, int, void> s_body;
    private static void* s_state;
    private static int s_chunkCount;
    private static int s_nextChunk = NoJob;
    private const int NoJob = int.MaxValue / 2; // a late worker's increment from here never reaches a chunk
    private static int s_pendingChunks;
    private static int s_busy;
    private static Exception? s_failure;

    /// <summary>Threads a parallel job may use in total, the caller included (<c>torch.set_num_threads</c>).</summary>
    public static int Threads
    {
        get => s_threads;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            lock (s_gate) s_threads = value;
        }
    }

    /// <summary>Runs <paramref name="body"/>(state, chunk) for every chunk in [0, chunkCount).</summary>
    public static void For(int chunkCount, delegate*<void*, int, void> body, void* state)
    {
        int helpers = Math.Min(s_threads, chunkCount) - 1;
        // Serial when one thread suffices or another thread's job holds the workers (results are
        // the same either way: only the chunk order on threads changes, never a chunk's arithmetic).
        if (helpers <= 0 || Interlocked.CompareExchange(ref s_busy, 1, 0) != 0)
        {
            for (int chunk = 0; chunk < chunkCount; chunk++) body(state, chunk);
            return;
        }
        try
        {
            EnsureWorkers(helpers);
            s_body = body;
            s_state = state;
            s_chunkCount = chunkCount;
            s_pendingChunks = chunkCount;
            s_failure = null;
            Volatile.Write(ref s_nextChunk, 0);
            for (int i = 0; i < helpers; i++) s_workers[i].Wake();
            RunChunks();
            var spinner = new SpinWait();
            while (Volatile.Read(ref s_pendingChunks) > 0) spinner.SpinOnce(sleep1Threshold: -1);
            if (s_failure is { } failure) throw new AggregateException("A parallel kernel chunk failed.", failure);
        }
        finally
        {
            Volatile.Write(ref s_nextChunk, NoJob);
            Volatile.Write(ref s_busy, 0);
        }
    }

    /// <summary>Takes chunks until none are left (the caller and every woken worker run this).</summary>
    private static void RunChunks()
    {
        int chunk;
        while ((chunk = Interlocked.Increment(ref s_nextChunk) - 1) < s_chunkCount)
        {
            try
            {
                s_body(s_state, chunk);
            }
            catch (Exception e)
            {
                s_failure ??= e;
            }
            finally
            {
                Interlocked.Decrement(ref s_pendingChunks);
            }
        }
    }

    private static void EnsureWorkers(int count)
    {
        if (s_workers.Length >= count) return;
        lock (s_gate)
        {
            if (s_workers.Length >= count) return;
            var workers = new Worker[count];
            Array.Copy(s_workers, workers, s_workers.Length);
            for (int i = s_workers.Length; i < count; i++) workers[i] = new Worker(i);
            s_workers = workers;
        }
    }

    /// <summary>A background thread that spins briefly after a job (jobs in a step come in bursts), then sleeps.</summary>
    private sealed class Worker
    {
        private const int SpinIterations = 20_000;
        private readonly ManualResetEventSlim _wake = new(false, spinCount: 0);
        private int _signalled;

        public Worker(int index)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"Autograd.Fast worker {index}" };
            thread.Start();
        }

        public void Wake()
        {
            Volatile.Write(ref _signalled, 1);
            _wake.Set();
        }

        private void Loop()
        {
            while (true)
            {
                for (int spin = 0; spin < SpinIterations && Volatile.Read(ref _signalled) == 0; spin++) Thread.SpinWait(20);
                if (Volatile.Read(ref _signalled) == 0) _wake.Wait();
                _wake.Reset();
                Volatile.Write(ref _signalled, 0);
                RunChunks();
            }
        }
    }
}

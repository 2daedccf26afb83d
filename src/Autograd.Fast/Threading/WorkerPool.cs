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
    private static int s_pendingChunks;
    private static int s_busy;
    private static Exception? s_failure;

    // Chunks are claimed with tickets (job epoch << 32 | chunk). A worker that claims a ticket after
    // its job ended (all chunks taken, the caller gone) holds an old epoch and stops, even if the
    // next job is already published: it can never run a chunk twice or under another job's state.
    private static int s_epoch;
    private static long s_ticket;
    private static long s_job; // epoch << 32 | chunk count of the job being run

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
            s_pendingChunks = chunkCount;
            s_failure = null;
            long epoch = (long)unchecked(++s_epoch) << 32;
            Volatile.Write(ref s_job, epoch | (uint)chunkCount);
            Volatile.Write(ref s_ticket, epoch); // publishes the job: chunk 0 is the next ticket
            for (int i = 0; i < helpers; i++) s_workers[i].Wake();
            RunChunks();
            var spinner = new SpinWait();
            while (Volatile.Read(ref s_pendingChunks) > 0) spinner.SpinOnce(sleep1Threshold: -1);
            if (s_failure is { } failure) throw new AggregateException("A parallel kernel chunk failed.", failure);
        }
        finally
        {
            Volatile.Write(ref s_busy, 0);
        }
    }

    /// <summary>Takes chunks until none are left (the caller and every woken worker run this).</summary>
    private static void RunChunks()
    {
        while (true)
        {
            long ticket = Interlocked.Increment(ref s_ticket) - 1;
            long job = Volatile.Read(ref s_job);
            int chunk = (int)ticket;
            // Another job's ticket (this one ended), or past the last chunk: nothing left for us.
            if ((int)(ticket >> 32) != (int)(job >> 32) || chunk >= (int)job) return;
            // The chunk is ours and unfinished, so its job cannot have returned: s_body and s_state are its own.
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

namespace AutogradFast.Tool.Seeds;

/// <summary>The five seed notebooks of ../shared/seeds, translated to C# cell by cell.</summary>
internal static class SeedWalkthrough
{
    private static readonly (string Name, string Title, Action<Notebook> Run)[] s_notebooks =
    [
        ("000", "scalar and vector inputs and outputs, gradient= scaling, index assignment into zeros", Notebook000.Run),
        ("001", "0-d versus shape-[1] tensors, gradient= scaling, sum, torch.mm, non-scalar outputs", Notebook001.Run),
        ("002", "add, mul, exp, the non-scalar backward error, detach, grad.zero_() in a loop", Notebook002.Run),
        ("003", "dy/dx and dy/du of a polynomial, dot and @ on 1-D and 2-D tensors, control flow", Notebook003.Run),
        ("004", "gradient of 2·dot(x, x), sum, non-scalar backward, detach, control flow", Notebook004.Run),
    ];

    public const string Usage = """
        autograd-fast seeds [NAME...]
          Runs the five PyTorch autograd tutorials (built into the tool) translated to C#, cell by cell:
          each cell's C# code, then its output. Without a name all five run, in order.
          NAME  a notebook: 000, 001, 002, 003, 004 (or 0 ... 4); several may be given.
        """;

    /// <summary><c>autograd-fast seeds [NAME...]</c>: validates every argument before running anything.</summary>
    public static int RunCommand(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        if (args.Any(a => a is "--help" or "-h"))
        {
            output.WriteLine(Usage);
            return 0;
        }
        var chosen = new List<string>();
        foreach (string arg in args)
        {
            string? name = NotebookName(arg);
            if (name is null)
            {
                error.WriteLine(arg.StartsWith('-')
                    ? $"seeds: unknown option '{arg}'."
                    : $"seeds: no notebook named '{arg}'. Names: {string.Join(", ", s_notebooks.Select(n => n.Name))} (or 0 ... {s_notebooks.Length - 1}).");
                error.WriteLine(Usage);
                return 2;
            }
            if (!chosen.Contains(name)) chosen.Add(name);
        }
        foreach (var (name, title, run) in s_notebooks)
        {
            if (chosen.Count > 0 && !chosen.Contains(name)) continue;
            var notebook = new Notebook(output, name, title);
            notebook.Begin();
            run(notebook);
            output.WriteLine();
        }
        return 0;
    }

    /// <summary>Runs every notebook (tests and the benchmark harness call this).</summary>
    public static int Run(TextWriter output, string? only) => RunCommand(only is null ? [] : [only], output, Console.Error);

    /// <summary>"003", "3" or "03" name notebook 003; anything else names none.</summary>
    private static string? NotebookName(string arg)
    {
        if (arg.Length == 0 || arg.Length > 3 || !arg.All(char.IsAsciiDigit)) return null;
        string name = int.Parse(arg, System.Globalization.CultureInfo.InvariantCulture).ToString("D3", System.Globalization.CultureInfo.InvariantCulture);
        return s_notebooks.Any(n => n.Name == name) ? name : null;
    }
}

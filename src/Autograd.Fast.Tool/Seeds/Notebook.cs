using System.Runtime.CompilerServices;

namespace AutogradFast.Tool.Seeds;

/// <summary>
/// Prints a notebook translated to C#: each cell shows its own source (captured by the compiler,
/// so the code shown is the code that ran) and then what it printed, like an exported notebook.
/// </summary>
internal sealed class Notebook(TextWriter output, string name, string title)
{
    private int _cell;

    public string Name { get; } = name;

    public void Begin()
    {
        output.WriteLine(new string('=', 100));
        output.WriteLine($"# Notebook {Name}: {title}");
        output.WriteLine(new string('=', 100));
    }

    /// <summary>A markdown line of the notebook.</summary>
    public void Text(string markdown) => output.WriteLine($"\n{markdown}");

    /// <summary>Runs one cell: prints <c>In [n]:</c>, the cell's C# code, then its output.</summary>
    public void Cell(Action body, [CallerArgumentExpression(nameof(body))] string code = "")
    {
        output.WriteLine($"\nIn [{++_cell}]:");
        output.WriteLine(Dedent(StripLambda(code)));
        output.WriteLine();
        body();
    }

    /// <summary>A cell whose last expression is shown as the notebook's Out value.</summary>
    public void Cell(Func<object?> body, [CallerArgumentExpression(nameof(body))] string code = "")
    {
        output.WriteLine($"\nIn [{++_cell}]:");
        output.WriteLine(Dedent(StripLambda(code)));
        output.WriteLine();
        output.WriteLine(Show(body()));
    }

    /// <summary>A cell that fails as it does in PyTorch: prints the exception type and message.</summary>
    public void FailingCell(Action body, [CallerArgumentExpression(nameof(body))] string code = "")
    {
        output.WriteLine($"\nIn [{++_cell}]:");
        output.WriteLine(Dedent(StripLambda(code)));
        output.WriteLine();
        try
        {
            body();
            throw new InvalidOperationException("The cell was expected to fail, as in PyTorch, but it succeeded.");
        }
        catch (Exception e) when (e is not InvalidOperationException { Message: "The cell was expected to fail, as in PyTorch, but it succeeded." })
        {
            output.WriteLine($"{e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>Python's <c>print(a, b, ...)</c>: values separated by spaces, None for null.</summary>
    public void Print(params object?[] values) => output.WriteLine(string.Join(" ", values.Select(Show)));

    /// <summary>Says why this output differs from the notebook's recorded one (an older PyTorch).</summary>
    public void Differs(string why) => output.WriteLine($"[differs from the recorded notebook output: {why}]");

    public static string Show(object? value) => value switch
    {
        null => "None",
        bool b => b ? "True" : "False",
        float f => PythonFloat(f),
        double d => PythonFloat(d),
        System.Runtime.CompilerServices.ITuple t => "(" + string.Join(", ", Enumerable.Range(0, t.Length).Select(i => Show(t[i]))) + ")",
        System.Collections.IEnumerable list and not string => "[" + string.Join(", ", list.Cast<object?>().Select(Show)) + "]",
        _ => value.ToString() ?? "None",
    };

    /// <summary>Python's repr of a float: shortest round-trip digits, with ".0" on integral values.</summary>
    private static string PythonFloat(double d)
    {
        string s = d.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        return s.Contains('.') || s.Contains('E') || s.Contains("Infinity") || s.Contains("NaN") ? s : s + ".0";
    }

    private static string StripLambda(string code)
    {
        string c = code.Trim();
        if (c.StartsWith("() =>", StringComparison.Ordinal)) c = c[5..].Trim();
        if (c.StartsWith('{') && c.EndsWith('}')) c = c[1..^1].Trim('\n', '\r');
        return c;
    }

    private static string Dedent(string code)
    {
        string[] lines = code.Replace("\r", "").Split('\n');
        int indent = lines.Where(l => l.Trim().Length > 0).Select(l => l.Length - l.TrimStart().Length).DefaultIfEmpty(0).Min();
        return string.Join('\n', lines.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart())).Trim('\n');
    }
}

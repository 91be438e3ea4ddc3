using System.CommandLine;
using System.CommandLine.Parsing;
using Nabla.Data;
using Nabla.Training;
using Spectre.Console;

namespace Nabla.Cli;

/// <summary>Where the command's strings end: parsing, validation and turning failures into one-line errors.</summary>
internal static class Cli
{
    public static int Run(RootCommand root, string[] args)
    {
        var result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            foreach (var e in result.Errors) Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
        try
        {
            // Our handler below prints one line; System.CommandLine's default would print the stack trace.
            return result.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is DatasetNotFoundException or InvalidDataException or IOException or UnauthorizedAccessException
                                       or ArgumentException or TrainingDivergedException or FileNotFoundException or InvalidOperationException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    /// <summary>An option that must be a positive integer.</summary>
    public static Option<int> Positive(string name, string description, int? defaultValue = null)
    {
        var o = new Option<int>(name) { Description = description };
        if (defaultValue is { } d) o.DefaultValueFactory = _ => d;
        o.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() <= 0) r.AddError($"{name} must be a positive integer, got {r.GetValueOrDefault<int>()}");
        });
        return o;
    }

    public static string Escape(string s) => Markup.Escape(s);

    /// <summary>An enum option spelled in lower case (mlp, adamw); an unknown name is a one-line error listing the valid ones.</summary>
    public static Option<T?> Choice<T>(string name, string description, bool required = false) where T : struct, Enum
    {
        string names = string.Join(", ", Enum.GetNames<T>().Select(n => n.ToLowerInvariant()));
        return new Option<T?>(name)
        {
            Description = $"{description} ({names})",
            Required = required,
            CustomParser = r =>
            {
                string value = r.Tokens[0].Value;
                if (Enum.TryParse<T>(value.Replace("-", "", StringComparison.Ordinal), ignoreCase: true, out var v) && Enum.IsDefined(v)) return v;
                r.AddError($"unknown value '{value}' for {name}; expected one of: {names}");
                return null;
            },
        };
    }
}

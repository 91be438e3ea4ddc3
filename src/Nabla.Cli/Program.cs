using System.CommandLine;
using Nabla.Cli;

var root = new RootCommand("Nabla: train and evaluate neural networks in pure .NET")
{
    TrainCommand.Create(),
    EvalCommand.Create(),
};
return Cli.Run(root, args);

using System.CommandLine;
using Nabla.Cli;

JitProfile.Start(args);

var root = new RootCommand("Nabla: train and evaluate neural networks in pure .NET")
{
    TrainCommand.Create(),
    EvalCommand.Create(),
};
return Cli.Run(root, args);

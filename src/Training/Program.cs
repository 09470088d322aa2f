using System.CommandLine;
using Video.Training;

return TrainerCli.Run(args);

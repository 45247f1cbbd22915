/** `faultline` command line: `ship` and `collect` (see shipper/README.md). */
const [command] = process.argv.slice(2);
process.stderr.write(
  `faultline: unknown command ${JSON.stringify(command ?? "")}; try: faultline ship --help\n`,
);
process.exitCode = 2;

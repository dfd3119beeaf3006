// The build keeps src/ and migrations/ side by side under dist/; API.md promises
// `node dist/cli.js` (and we offer `node dist/main.js`), so write those two entry points.
const { writeFileSync } = require('node:fs');
writeFileSync('dist/main.js', "require('./src/main');\n");
writeFileSync('dist/cli.js', "require('./src/cli').run();\n");

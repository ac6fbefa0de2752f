// Coverage is measured over the service's own code, whatever test loaded it.
export default (testFile) => testFile.startsWith('test/') ? ['src/**', 'routes/**', 'schemas/**'] : null

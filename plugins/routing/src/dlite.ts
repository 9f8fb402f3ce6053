// The plugin surface of the dlite core that loaded this plugin, as a type: the kit's loadDlite finds it at run
// time (an installed plugin cannot import the core by name).
export type Dlite = typeof import('dlite-cli/plugin')

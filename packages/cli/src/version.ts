/** The CLI's version (package.json's; a test keeps them equal). A constant so bundles need no file. */
export const VERSION = '0.1.0';

#!/usr/bin/env node
import { handleError, main, tolerateClosedPipes } from './main.js';

tolerateClosedPipes();
main(process.argv).catch(handleError);

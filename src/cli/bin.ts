#!/usr/bin/env node
import { handleError, main } from './main.js';

main(process.argv).catch(handleError);

// Typed operations from the composed supergraph. The shop's documents (src/graphql/*.graphql)
// are validated against the gateway's public schema, so a schema change that breaks the shop
// fails `npm run codegen` (and with it build, test and lint). The client preset also writes
// src/gql/persisted-documents.json, the shop's persisted-operation manifest, which the
// gateway's persisted.mjs merges into its allow-list (docs/storefront.md).
import { createHash } from 'node:crypto';
import type { CodegenConfig } from '@graphql-codegen/cli';
import { addTypenameSelectionDocumentTransform } from '@graphql-codegen/client-preset';
import { publicSchemaSdl } from './scripts/public-schema.mjs';

const config: CodegenConfig = {
  schema: publicSchemaSdl(),
  documents: ['src/graphql/*.graphql'],
  generates: {
    'src/gql/': {
      preset: 'client',
      presetConfig: {
        fragmentMasking: false,
        // Bare hex sha256 of the printed document: the id format of the gateway's manifest.
        persistedDocuments: {
          hashAlgorithm: (document: string) => createHash('sha256').update(document).digest('hex'),
        },
      },
      // Apollo Client adds __typename to every selection it sends; the persisted body must
      // be that same document.
      documentTransforms: [addTypenameSelectionDocumentTransform],
      config: {
        enumsAsTypes: true,
        useTypeImports: true,
        strictScalars: true,
        scalars: { DateTime: 'string', ID: 'string' },
      },
    },
  },
};

export default config;

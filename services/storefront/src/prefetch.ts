// A tiny entry that runs before the app's code has downloaded: it starts the category menu's
// query and, on a product or search page, the page's own, so data and code arrive together. The app's
// request for the same URL takes this response (src/app/apollo.ts).
import { ids } from 'virtual:persisted-ids';
import { persistedGetUrl } from './app/persistedGet';
import { config } from './config';
import { parseSearchParams, searchVariables } from './search/params';

function early(documentId: string | undefined, variables: Record<string, unknown>) {
  if (!documentId) return;
  const url = persistedGetUrl(config.gatewayUrl, documentId, variables);
  const requests = (window.__EMPORIUM_EARLY__ ??= new Map());
  requests.set(url, fetch(url, { headers: { accept: 'application/graphql-response+json' } }));
}

const { pathname, search } = window.location;
// every page's header shows the category menu
early(ids.ShopCategoryTree, {});
const product = pathname.match(/^\/p\/([^/]+)$/);
if (product) {
  early(ids.ShopProduct, { slug: decodeURIComponent(product[1]) });
} else if (pathname === '/search') {
  early(ids.ShopSearch, searchVariables(parseSearchParams(new URLSearchParams(search))));
}

// A tiny entry that runs before the app's code has downloaded: it starts the category menu's
// query and, on a product or search page, the page's own, so data and code arrive together. The app's
// request for the same URL takes this response (src/app/apollo.ts).
import { ids } from 'virtual:persisted-ids';
import { persistedGetUrl } from './app/persistedGet';
import { config } from './config';
import { SERVER_STATE_ID } from './app/serverState';
import { preloadPicture, type Slot } from './lib/pictures';
import { parseSearchParams, searchVariables } from './search/params';

function early(documentId: string | undefined, variables: Record<string, unknown>) {
  if (!documentId) return;
  const url = persistedGetUrl(config.gatewayUrl, documentId, variables);
  const requests = (window.__EMPORIUM_EARLY__ ??= new Map());
  const response = fetch(url, { headers: { accept: 'application/graphql-response+json' } });
  requests.set(url, response);
  return response;
}

type Picture = { url: string } | undefined;
type Answer = {
  data?: {
    productBySlug?: { images?: Picture[] } | null;
    search?: { edges?: { node?: { images?: Picture[] } }[] } | null;
  };
};

// The first pictures of a page are its largest paint: ask for them as soon as the data names
// them, not once the app has rendered the page. (From a clone: the app reads the original.)
function preloadPictures(
  response: Promise<Response>,
  pick: (answer: Answer) => Picture[],
  slot: Slot,
) {
  response
    .then((answer) => answer.clone().json() as Promise<Answer>)
    .then((answer) => {
      for (const picture of pick(answer)) if (picture) preloadPicture(picture.url, slot);
    })
    .catch(() => {
      // the page's own query reports the failure
    });
}

const { pathname, search } = window.location;
// a page the server rendered came with its data, and its pictures are already in the markup
if (!document.getElementById(SERVER_STATE_ID)) {
  // every page's header shows the category menu
  early(ids.ShopCategoryTree, {});
  const product = pathname.match(/^\/p\/([^/]+)$/);
  if (product) {
    const response = early(ids.ShopProduct, { slug: decodeURIComponent(product[1]) });
    if (response) {
      preloadPictures(response, (answer) => [answer.data?.productBySlug?.images?.[0]], 'gallery');
    }
  } else if (pathname === '/search') {
    const response = early(
      ids.ShopSearch,
      searchVariables(parseSearchParams(new URLSearchParams(search))),
    );
    // the first row of results (two cards on a phone)
    if (response) {
      preloadPictures(
        response,
        (answer) =>
          (answer.data?.search?.edges ?? []).slice(0, 2).map((edge) => edge.node?.images?.[0]),
        'card',
      );
    }
  }
}

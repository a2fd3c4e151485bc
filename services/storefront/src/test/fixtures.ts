// Response data in the shapes the gateway answers (with __typename, as Apollo's cache needs).
import type {
  CategoryLinkFragment,
  ProductCardFragment,
  ShopCategoryTreeQuery,
  ShopProductQuery,
  ShopSearchQuery,
} from '../gql/graphql';

export function category(id: string, name: string): CategoryLinkFragment {
  return { __typename: 'Category', id, name, slug: name.toLowerCase().replace(/\W+/g, '-') };
}

export function categoryTree(): ShopCategoryTreeQuery {
  const phones = { ...category('c-phones', 'Phones'), children: [] };
  const electronics = { ...category('c-electronics', 'Electronics'), children: [phones] };
  return { __typename: 'Query', rootCategories: [electronics] };
}

export function card(id: string, name: string, brand: string, cents: number): ProductCardFragment {
  return {
    __typename: 'Product',
    id,
    slug: `${name.toLowerCase().replace(/\W+/g, '-')}-${id}`,
    name,
    brand,
    availability: 'IN_STOCK',
    price: {
      __typename: 'Money',
      amount: cents,
      currency: 'USD',
      formatted: `$${(cents / 100).toFixed(2)}`,
    },
    images: [],
  };
}

type Facets = ShopSearchQuery['search']['facets'];

export function facets(overrides: Partial<Facets> = {}): Facets {
  const value = (v: string, count: number, selected = false) => ({
    __typename: 'FacetValue' as const,
    value: v,
    count,
    selected,
  });
  return {
    __typename: 'SearchFacets',
    categories: [
      { __typename: 'CategoryFacetValue', count: 3, category: category('c-phones', 'Phones') },
    ],
    brands: [value('Nordlys', 2), value('Veyra', 1)],
    sellers: [value('s-1', 3)],
    availability: [value('IN_STOCK', 3)],
    priceRanges: [
      { __typename: 'PriceRangeFacetValue', from: null, to: 2500, count: 1, selected: false },
      { __typename: 'PriceRangeFacetValue', from: 2500, to: 5000, count: 2, selected: false },
      { __typename: 'PriceRangeFacetValue', from: 5000, to: null, count: 0, selected: false },
    ],
    attributes: [
      {
        __typename: 'AttributeFacet',
        name: 'Color',
        values: [value('Midnight', 2), value('Rose', 1)],
      },
    ],
    ...overrides,
  };
}

export function searchResult(
  products: ProductCardFragment[],
  options: {
    totalCount?: number;
    didYouMean?: string | null;
    facets?: Facets;
    hasNextPage?: boolean;
  } = {},
): ShopSearchQuery {
  return {
    __typename: 'Query',
    search: {
      __typename: 'SearchResult',
      totalCount: options.totalCount ?? products.length,
      didYouMean: options.didYouMean ?? null,
      pageInfo: {
        __typename: 'PageInfo',
        hasNextPage: options.hasNextPage ?? false,
        endCursor: products.length ? `cursor-${products.at(-1)!.id}` : null,
      },
      edges: products.map((node) => ({
        __typename: 'SearchEdge',
        cursor: `cursor-${node.id}`,
        node,
      })),
      facets: options.facets ?? facets(),
    },
    sellers: [{ __typename: 'Seller', id: 's-1', name: 'Northwind Traders' }],
  };
}

type Product = NonNullable<ShopProductQuery['productBySlug']>;

export function product(overrides: Partial<Product> = {}): Product {
  const money = (amount: number) => ({
    __typename: 'Money' as const,
    amount,
    currency: 'USD',
    formatted: `$${(amount / 100).toFixed(2)}`,
  });
  const seller = (id: string, name: string) => ({
    __typename: 'Seller' as const,
    id,
    name,
    slug: name.toLowerCase().replace(/\W+/g, '-'),
  });
  return {
    __typename: 'Product',
    id: 'p-1',
    slug: 'nordlys-pro-5',
    name: 'Nordlys Pro 5',
    brand: 'Nordlys',
    description: 'A phone with a long battery life.',
    sku: 'NRD-P5-001',
    status: 'ACTIVE',
    availability: 'IN_STOCK',
    price: money(69900),
    images: [],
    attributes: [{ __typename: 'Attribute', name: 'Color', value: 'Midnight' }],
    listings: [
      {
        __typename: 'Listing',
        sellerId: 's-2',
        seller: seller('s-2', 'Contoso Goods'),
        price: money(68900),
        availability: 'IN_STOCK',
      },
      {
        __typename: 'Listing',
        sellerId: 's-1',
        seller: seller('s-1', 'Northwind Traders'),
        price: money(67900),
        availability: 'BACKORDER',
      },
    ],
    category: {
      ...category('c-phones', 'Phones'),
      ancestors: [category('c-electronics', 'Electronics')],
    },
    ...overrides,
  };
}
